//! Daily reports that the source restates (ad spend, conversions, web sessions): each row is
//! one day of one entity, and a day's numbers keep changing for a while after it ends
//! (conversions are attributed late). Such streams:
//!
//! * re-read a trailing **look-back window** on every incremental run, starting
//!   `lookback_days` days before the last date loaded (the cursor, a `date` column), so that
//!   restated days replace the stored ones (the table MERGEs on the report grain; a changed row
//!   at an equal date replaces the old one);
//! * split long date ranges into **windows** that run as partitions
//!   ([`crate::partition::merge_partitions`]), several at a time;
//! * keep the range of an unfinished sync in the state (`resume`), together with each
//!   partition's position, so a rerun continues where it stopped and skips finished windows.
//!
//! A connector plans the run with [`ReportRead::begin`], builds one [`ReportUnit`] per window
//! (and per account, for sources that fan out), and calls [`ReportRead::run`]. A unit's pages
//! carry its own position as their checkpoint; its last page must carry [`UNIT_DONE`].

use std::future::Future;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use chrono::{Duration, NaiveDate, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::cursor::column_max;
use crate::error::{Error, ErrorKind, Result};
use crate::partition::{PARTITIONS_KEY, Partition, merge_partitions};
use crate::state::SyncState;
use crate::stream::{Page, PageStream, ReadRequest, SyncMode};

/// The checkpoint of a unit's last page: the unit is finished and is skipped on resume.
pub const UNIT_DONE: &str = "done";

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// First day.
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
}

impl DateRange {
    /// `start..=end`.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Self {
        DateRange { start, end }
    }

    /// Number of days (0 if `end` is before `start`).
    pub fn days(&self) -> i64 {
        ((self.end - self.start).num_days() + 1).max(0)
    }

    /// Consecutive windows of at most `window_days` days covering the range, oldest first.
    pub fn windows(&self, window_days: u32) -> Vec<DateRange> {
        let step = Duration::days(i64::from(window_days.max(1)));
        let mut out = Vec::new();
        let mut start = self.start;
        while start <= self.end {
            let end = (start + step - Duration::days(1)).min(self.end);
            out.push(DateRange { start, end });
            start = end + Duration::days(1);
        }
        out
    }

    /// Splits the range into two halves (the first gets the extra day); `None` for one day.
    pub fn halves(&self) -> Option<(DateRange, DateRange)> {
        if self.days() < 2 {
            return None;
        }
        let mid = self.start + Duration::days(self.days() / 2 - 1 + self.days() % 2);
        Some((
            DateRange::new(self.start, mid),
            DateRange::new(mid + Duration::days(1), self.end),
        ))
    }

    /// Whether `day` lies in the range.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }

    /// `2024-05-01..2024-05-31`, for ids and messages.
    pub fn label(&self) -> String {
        format!("{}..{}", self.start, self.end)
    }
}

/// How a report stream chooses its range and splits it.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// Days re-read before (and including) the last loaded date on incremental runs.
    pub lookback_days: u32,
    /// Days per window (partition).
    pub window_days: u32,
    /// Partitions read at once.
    pub concurrency: usize,
    /// Without `start_date`, a first sync starts this many days before today.
    pub default_history_days: u32,
    /// Last day to read; `None` is today (UTC).
    pub end_date: Option<NaiveDate>,
}

impl ReportSettings {
    /// The last day to read.
    pub fn end(&self) -> NaiveDate {
        self.end_date.unwrap_or_else(|| Utc::now().date_naive())
    }
}

/// Where an unfinished report sync stands: its range (the windows are derived from it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Resume {
    start: NaiveDate,
    end: NaiveDate,
}

/// One partition of a report read: an id (stable across runs of the same range) and its range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportUnit {
    /// Partition id, e.g. `2024-05-01` or `1234567890/2024-05-01`.
    pub id: String,
    /// Days it covers.
    pub range: DateRange,
}

/// A planned read of a report stream.
#[derive(Debug)]
pub struct ReportRead {
    stream: String,
    state: SyncState,
    mode: SyncMode,
    /// The days this read covers; `None` when there is nothing to read (start after end).
    pub range: Option<DateRange>,
    settings: ReportSettings,
    cursor_column: String,
    schema: arrow::datatypes::SchemaRef,
}

impl ReportRead {
    /// Plans the read: an interrupted sync continues over its stored range; an incremental
    /// run with a cursor starts `lookback_days` before it (inclusive), and a first sync or a
    /// full refresh at `start_date` (or `default_history_days` ago); never before
    /// `start_date`, and always up to [`ReportSettings::end`].
    pub fn begin(
        stream: &str,
        request: &ReadRequest,
        settings: &ReportSettings,
        cursor_column: &str,
    ) -> Result<ReportRead> {
        let mut state = SyncState::from_value(request.state.as_ref(), stream)?;
        let end = settings.end();
        let floor = request
            .start_date
            .map(|d| d.date_naive())
            .unwrap_or_else(|| end - Duration::days(i64::from(settings.default_history_days)));
        let stored: Option<Resume> = state
            .resume
            .take()
            .map(|r| {
                serde_json::from_value(r).map_err(|e| {
                    Error::new(
                        ErrorKind::State,
                        format!("stored resume position is not readable: {e}"),
                    )
                    .with_context("stream", stream)
                })
            })
            .transpose()?;
        let range = match stored {
            Some(r) => Some(DateRange::new(r.start, r.end)),
            None => {
                state.pending = None;
                state.extra.remove(PARTITIONS_KEY);
                let cursor = match request.mode {
                    SyncMode::Incremental => state
                        .cursor
                        .as_ref()
                        .and_then(|c| c.as_str())
                        .and_then(|c| NaiveDate::parse_from_str(c, "%Y-%m-%d").ok()),
                    SyncMode::FullRefresh => None,
                };
                let start = match cursor {
                    Some(c) => (c - Duration::days(i64::from(settings.lookback_days))
                        + Duration::days(1))
                    .max(floor),
                    None => floor,
                };
                (start <= end).then(|| DateRange::new(start, end))
            }
        };
        state.mode = Some(request.mode);
        Ok(ReportRead {
            stream: stream.to_string(),
            state,
            mode: request.mode,
            range,
            settings: settings.clone(),
            cursor_column: cursor_column.to_string(),
            schema: request.schema.arrow_schema(),
        })
    }

    /// The planned range split into windows of `window_days`, ids being their first days.
    pub fn windows(&self) -> Vec<ReportUnit> {
        self.range
            .map(|r| {
                r.windows(self.settings.window_days)
                    .into_iter()
                    .map(|w| ReportUnit {
                        id: w.start.to_string(),
                        range: w,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The stored position of partition `id` (e.g. a page offset), if it was started.
    pub fn position(&self, id: &str) -> Option<&serde_json::Value> {
        self.state.extra.get(PARTITIONS_KEY)?.get(id)
    }

    /// Reads the units not yet finished, `concurrency` at a time, through `read_unit`
    /// (called with the unit and its stored position). Each page's checkpoint is the sync
    /// state with every partition's position; after the last unit a final empty page moves
    /// the cursor to the largest `cursor_column` value read and clears the resume position.
    pub fn run<F>(self, units: Vec<ReportUnit>, read_unit: F) -> PageStream
    where
        F: Fn(ReportUnit, Option<serde_json::Value>) -> PageStream,
    {
        let ReportRead {
            stream,
            state,
            mode,
            range,
            settings,
            cursor_column,
            schema,
        } = self;
        let prior = state
            .extra
            .get(PARTITIONS_KEY)
            .map(|p| serde_json::json!({ PARTITIONS_KEY: p }));
        let partitions: Vec<Partition> = units
            .into_iter()
            .filter_map(|u| {
                let pos = state
                    .extra
                    .get(PARTITIONS_KEY)
                    .and_then(|p| p.get(&u.id))
                    .cloned();
                if pos.as_ref().and_then(|p| p.as_str()) == Some(UNIT_DONE) {
                    return None;
                }
                let id = u.id.clone();
                Some(Partition {
                    id,
                    pages: read_unit(u, pos),
                })
            })
            .collect();
        let resume = range.map(|r| {
            serde_json::to_value(Resume {
                start: r.start,
                end: r.end,
            })
            .expect("resume serializes")
        });
        let mut running = state.clone();
        let merged =
            probe_then_merge(partitions, settings.concurrency.max(1), prior).map(move |item| {
                let mut page = item?;
                if let Some(p) = page.checkpoint.get(PARTITIONS_KEY) {
                    running.extra.insert(PARTITIONS_KEY.to_string(), p.clone());
                }
                running.observe(
                    column_max(&page.batch, &cursor_column),
                    &arrow::datatypes::DataType::Date32,
                );
                running.resume = resume.clone();
                running.mode = Some(mode);
                page.checkpoint = running.to_value();
                Ok((page, running.clone()))
            });
        // Track the running state so the final page can finish it.
        let last = Arc::new(std::sync::Mutex::new(None::<SyncState>));
        let last_w = last.clone();
        let pages = merged.map(move |r: Result<(Page, SyncState)>| {
            r.map(|(page, s)| {
                *last_w.lock().expect("state lock") = Some(s);
                page
            })
        });
        let finish = futures::stream::once(async move {
            let mut s = last.lock().expect("state lock").take().unwrap_or(state);
            s.extra.remove(PARTITIONS_KEY);
            s.finish(&arrow::datatypes::DataType::Date32);
            tracing::debug!(stream = %stream, cursor = ?s.cursor, "report sync finished");
            Ok(Page {
                batch: RecordBatch::new_empty(schema),
                checkpoint: s.to_value(),
                fetched_at: Utc::now(),
                nulled_values: 0,
            })
        });
        // The final page only follows when every unit succeeded: the first error ends the
        // stream, before anything else is polled (no request is sent after a quota stop).
        let all = pages.chain(finish).boxed();
        futures::stream::unfold((all, false), |(mut s, stop)| async move {
            if stop {
                return None;
            }
            let item = s.next().await?;
            let stop = item.is_err();
            Some((item, (s, stop)))
        })
        .boxed()
    }
}

/// [`merge_partitions`], except that the first partition's first page is read alone before
/// the others start: a rejected credential or an invalid request costs one request, not
/// `concurrency` of them.
fn probe_then_merge(
    mut partitions: Vec<Partition>,
    concurrency: usize,
    prior: Option<serde_json::Value>,
) -> PageStream {
    if partitions.len() <= 1 || concurrency <= 1 {
        return merge_partitions(partitions, concurrency, prior);
    }
    let first = partitions.remove(0);
    let id = first.id;
    let mut pages = first.pages;
    futures::stream::once(async move {
        match pages.next().await {
            Some(Err(e)) => futures::stream::once(async move { Err(e) }).boxed(),
            Some(Ok(page)) => {
                let head = futures::stream::once(async move { Ok(page) })
                    .chain(pages)
                    .boxed();
                partitions.insert(0, Partition { id, pages: head });
                merge_partitions(partitions, concurrency, prior)
            }
            None => merge_partitions(partitions, concurrency, prior),
        }
    })
    .flatten()
    .boxed()
}

/// A page stream that first awaits `setup` (e.g. listing accounts) and then yields the
/// stream it returns; a setup error is the only item.
pub fn lazy<F>(setup: F) -> PageStream
where
    F: Future<Output = Result<PageStream>> + Send + 'static,
{
    futures::stream::once(setup)
        .map(|r| match r {
            Ok(s) => s,
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
        .boxed()
}

/// Parses a `YYYY-MM-DD` option value.
pub fn parse_day(value: &str, what: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        Error::config(format!(
            "`{what}` must be a date as YYYY-MM-DD, got `{value}`"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Date32Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use chrono::TimeZone;

    use super::*;
    use crate::schema::{Column, ColumnType, StreamSchema};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn settings() -> ReportSettings {
        ReportSettings {
            lookback_days: 14,
            window_days: 30,
            concurrency: 2,
            default_history_days: 365,
            end_date: Some(d("2024-05-31")),
        }
    }

    fn request(mode: SyncMode, state: Option<serde_json::Value>) -> ReadRequest {
        ReadRequest {
            mode,
            state,
            start_date: Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
            schema: Arc::new(
                StreamSchema::new(vec![Column::new("date", ColumnType::Date)]).unwrap(),
            ),
        }
    }

    #[test]
    fn ranges_split_into_windows_and_halves() {
        let r = DateRange::new(d("2024-01-01"), d("2024-03-05"));
        let w = r.windows(30);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0], DateRange::new(d("2024-01-01"), d("2024-01-30")));
        assert_eq!(w[2], DateRange::new(d("2024-03-01"), d("2024-03-05")));
        assert_eq!(w.iter().map(DateRange::days).sum::<i64>(), r.days());
        let (a, b) = DateRange::new(d("2024-01-01"), d("2024-01-05"))
            .halves()
            .unwrap();
        assert_eq!((a.days(), b.days()), (3, 2));
        assert_eq!(b.end, d("2024-01-05"));
        assert!(
            DateRange::new(d("2024-01-01"), d("2024-01-01"))
                .halves()
                .is_none()
        );
        assert!(
            DateRange::new(d("2024-01-02"), d("2024-01-01"))
                .windows(7)
                .is_empty()
        );
    }

    #[test]
    fn plans_first_sync_lookback_and_resume() {
        let s = settings();
        // First sync: start_date to the end.
        let r = ReportRead::begin("x", &request(SyncMode::Incremental, None), &s, "date").unwrap();
        assert_eq!(
            r.range,
            Some(DateRange::new(d("2024-01-01"), d("2024-05-31")))
        );
        assert_eq!(r.windows().len(), 6);
        // Incremental: 14 days up to and including the cursor.
        let st = serde_json::json!({"cursor": "2024-05-20"});
        let r = ReportRead::begin(
            "x",
            &request(SyncMode::Incremental, Some(st.clone())),
            &s,
            "date",
        )
        .unwrap();
        assert_eq!(
            r.range,
            Some(DateRange::new(d("2024-05-07"), d("2024-05-31")))
        );
        // Full refresh ignores the cursor.
        let r =
            ReportRead::begin("x", &request(SyncMode::FullRefresh, Some(st)), &s, "date").unwrap();
        assert_eq!(r.range.unwrap().start, d("2024-01-01"));
        // The look-back never reaches before start_date.
        let st = serde_json::json!({"cursor": "2024-01-03"});
        let r =
            ReportRead::begin("x", &request(SyncMode::Incremental, Some(st)), &s, "date").unwrap();
        assert_eq!(r.range.unwrap().start, d("2024-01-01"));
        // An interrupted sync keeps its range and partition positions.
        let st = serde_json::json!({"cursor": "2024-04-01", "resume": {"start": "2024-02-01", "end": "2024-04-30"},
            "mode": "incremental", "partitions": {"2024-02-01": "done", "2024-03-02": {"offset": 5}}});
        let r =
            ReportRead::begin("x", &request(SyncMode::Incremental, Some(st)), &s, "date").unwrap();
        assert_eq!(
            r.range,
            Some(DateRange::new(d("2024-02-01"), d("2024-04-30")))
        );
        assert_eq!(
            r.position("2024-03-02"),
            Some(&serde_json::json!({"offset": 5}))
        );
        // Nothing to read when start_date is after the end.
        let mut req = request(SyncMode::Incremental, None);
        req.start_date = Some(Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap());
        assert_eq!(
            ReportRead::begin("x", &req, &s, "date").unwrap().range,
            None
        );
    }

    fn page(days: &[i32], checkpoint: serde_json::Value) -> Result<Page> {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "date",
            DataType::Date32,
            true,
        )]));
        Ok(Page {
            batch: RecordBatch::try_new(schema, vec![Arc::new(Date32Array::from(days.to_vec()))])
                .unwrap(),
            checkpoint,
            fetched_at: Utc::now(),
            nulled_values: 0,
        })
    }

    fn unit_pages(u: &ReportUnit, pos: Option<serde_json::Value>) -> PageStream {
        let day = (u.range.start - d("1970-01-01")).num_days() as i32;
        let mut pages = Vec::new();
        if pos.is_none() {
            pages.push(page(&[day], serde_json::json!({"offset": 1})));
        }
        pages.push(page(&[day + 1], serde_json::json!(UNIT_DONE)));
        futures::stream::iter(pages).boxed()
    }

    #[tokio::test]
    async fn runs_units_as_partitions_and_finishes_the_state() {
        let s = settings();
        let r = ReportRead::begin("x", &request(SyncMode::Incremental, None), &s, "date").unwrap();
        let units = r.windows();
        let pages: Vec<Page> = r
            .run(units, |u, pos| unit_pages(&u, pos))
            .map(|p| p.unwrap())
            .collect()
            .await;
        assert_eq!(pages.len(), 6 * 2 + 1);
        let mid = &pages[5].checkpoint;
        assert_eq!(
            mid["resume"],
            serde_json::json!({"start": "2024-01-01", "end": "2024-05-31"})
        );
        assert!(mid["partitions"].as_object().unwrap().len() >= 3, "{mid}");
        let last = pages.last().unwrap();
        assert_eq!(last.batch.num_rows(), 0);
        // The cursor is the largest date read: the second day of the last window (2024-05-30..31).
        assert_eq!(last.checkpoint, serde_json::json!({"cursor": "2024-05-31"}));
    }

    #[tokio::test]
    async fn resume_skips_done_units_and_continues_started_ones() {
        let s = settings();
        let st = serde_json::json!({"resume": {"start": "2024-01-01", "end": "2024-05-31"}, "mode": "incremental",
            "pending": "2024-01-02",
            "partitions": {"2024-01-01": "done", "2024-01-31": {"offset": 1}}});
        let r =
            ReportRead::begin("x", &request(SyncMode::Incremental, Some(st)), &s, "date").unwrap();
        let units = r.windows();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen_w = seen.clone();
        let pages: Vec<Page> = r
            .run(units, move |u, pos| {
                seen_w.lock().unwrap().push((u.id.clone(), pos.clone()));
                unit_pages(&u, pos)
            })
            .map(|p| p.unwrap())
            .collect()
            .await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 5, "the done window is skipped: {seen:?}");
        assert_eq!(
            seen[0],
            (
                "2024-01-31".to_string(),
                Some(serde_json::json!({"offset": 1}))
            )
        );
        assert_eq!(pages.len(), 1 + 4 * 2 + 1);
        assert_eq!(pages.last().unwrap().checkpoint["cursor"], "2024-05-31");
    }

    #[tokio::test]
    async fn a_failing_unit_ends_the_stream_without_finishing() {
        let s = settings();
        let r = ReportRead::begin("x", &request(SyncMode::Incremental, None), &s, "date").unwrap();
        let units = r.windows();
        let items: Vec<Result<Page>> = r
            .run(units, |u, pos| {
                if u.id == "2024-03-01" {
                    futures::stream::once(async { Err(Error::new(ErrorKind::Api, "boom")) }).boxed()
                } else {
                    unit_pages(&u, pos)
                }
            })
            .collect()
            .await;
        assert!(items.last().unwrap().is_err());
        assert!(items.iter().filter(|i| i.is_err()).count() == 1);
        for i in items.iter().flatten() {
            assert!(
                i.checkpoint.get("resume").is_some(),
                "no page finishes the sync"
            );
        }
    }

    #[tokio::test]
    async fn an_empty_range_yields_one_finishing_page() {
        let s = settings();
        let mut req = request(
            SyncMode::Incremental,
            Some(serde_json::json!({"cursor": "2024-05-20"})),
        );
        req.start_date = Some(Utc.with_ymd_and_hms(2024, 7, 1, 0, 0, 0).unwrap());
        let r = ReportRead::begin("x", &req, &s, "date").unwrap();
        let units = r.windows();
        let pages: Vec<Page> = r
            .run(units, |u, p| unit_pages(&u, p))
            .map(|p| p.unwrap())
            .collect()
            .await;
        assert_eq!(pages.len(), 1);
        assert_eq!(
            pages[0].checkpoint,
            serde_json::json!({"cursor": "2024-05-20"})
        );
    }
}
