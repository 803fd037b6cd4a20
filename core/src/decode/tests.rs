use arrow::array::{
    Array, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, ListArray,
    StringArray, TimestampMicrosecondArray,
};

use super::*;
use crate::schema::{Column, ColumnType as T, EpochUnit, StreamSchema};

fn hubspot_like() -> StreamSchema {
    StreamSchema::new(vec![
        Column::new("id", T::Utf8),
        Column::nested(&["properties", "email"], T::Utf8).named("email"),
        Column::nested(&["properties", "amount"], T::Float64).named("amount"),
        Column::nested(&["properties", "hs_object_id"], T::Int64).named("hs_object_id"),
        Column::nested(&["properties", "optout"], T::Boolean).named("optout"),
        Column::nested(&["properties", "closedate"], T::Date).named("closedate"),
        Column::nested(&["properties", "lastmodifieddate"], T::Timestamp).named("lastmodifieddate"),
        Column::new("createdAt", T::Timestamp),
        Column::new("archived", T::Boolean),
        Column::new("associations", T::Json),
    ])
    .unwrap()
}

fn decoder(schema: &StreamSchema, path: &[&str], policy: BadValuePolicy) -> RecordDecoder {
    RecordDecoder::new(schema, path, &["id".to_string()], policy).unwrap()
}

const PAGE: &str = r#"{"results":[
 {"id":"101","properties":{"email":"a@acme.com","amount":"42000.50","hs_object_id":"101","optout":"true",
   "closedate":"2024-06-30","lastmodifieddate":"2024-05-02T14:03:11.482Z","ignored":"x"},
  "createdAt":"2024-04-02T09:12:44.120Z","archived":false,
  "associations":{"companies":{"results":[{"id":"9","type":"deal_to_company"}]}}},
 {"id":"102","properties":{"email":null,"amount":"","hs_object_id":"102","optout":"false",
   "closedate":"20240701","lastmodifieddate":"2024-05-02T14:03:11.000+0000"},
  "createdAt":1714658591482,"archived":false},
 {"id":"103","properties":{},"archived":true,"extra":[1,2,{"deep":true}]}
],"paging":{"next":{"after":"104","link":"https://x/y?after=104"}}}"#;

#[test]
fn decodes_nested_properties_with_coercions() {
    let s = hubspot_like();
    let page = decoder(&s, &["results"], BadValuePolicy::Fail)
        .decode(PAGE.as_bytes())
        .unwrap();
    let b = &page.batch;
    assert_eq!(b.num_rows(), 3);
    assert_eq!(b.schema().field(1).name(), "email");
    let col = |n: &str| b.column(b.schema().index_of(n).unwrap()).clone();

    let id = col("id");
    let id = id.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(id.value(2), "103");

    let email = col("email");
    let email = email.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(email.value(0), "a@acme.com");
    assert!(email.is_null(1) && email.is_null(2));

    let amount = col("amount");
    let amount = amount.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(amount.value(0), 42000.5);
    assert!(amount.is_null(1), "empty string becomes null");

    let oid = col("hs_object_id");
    assert_eq!(
        oid.as_any().downcast_ref::<Int64Array>().unwrap().value(1),
        102
    );

    let optout = col("optout");
    let optout = optout.as_any().downcast_ref::<BooleanArray>().unwrap();
    assert!(optout.value(0));
    assert!(!optout.value(1));

    let close = col("closedate");
    let close = close.as_any().downcast_ref::<Date32Array>().unwrap();
    assert_eq!(close.value(0), 19_904); // 2024-06-30
    assert_eq!(close.value(1), 19_905); // 20240701

    let lm = col("lastmodifieddate");
    let lm = lm
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(lm.value(0), 1_714_658_591_482_000);
    assert_eq!(lm.value(1), 1_714_658_591_000_000);

    let created = col("created_at");
    let created = created
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(created.value(0), 1_712_049_164_120_000);
    assert_eq!(created.value(1), 1_714_658_591_482_000, "epoch millis");
    assert!(created.is_null(2));

    let assoc = col("associations");
    let assoc = assoc.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(
        assoc.value(0),
        r#"{"companies":{"results":[{"id":"9","type":"deal_to_company"}]}}"#
    );
    assert!(assoc.is_null(1));

    assert_eq!(
        page.envelope["paging"]["next"]["after"],
        serde_json::json!("104")
    );
    assert_eq!(page.nulled_count, 0);
}

#[test]
fn bad_value_fails_naming_record_field_and_value() {
    let s = hubspot_like();
    let body = r#"{"results":[{"id":"7","properties":{"amount":"12,5"}}]}"#;
    let err = decoder(&s, &["results"], BadValuePolicy::Fail)
        .decode(body.as_bytes())
        .unwrap_err();
    let DecodeError::BadValue(bad) = err else {
        panic!("expected a bad value, got {err}")
    };
    assert_eq!(bad.field, "amount");
    assert_eq!(bad.value, "\"12,5\"");
    assert_eq!(bad.record_key.as_deref(), Some("7"));
    assert_eq!(bad.expected, "a number");
    let e = DecodeError::BadValue(bad).into_error("contacts");
    let text = e.to_string();
    assert!(
        text.contains("field `amount` of record 7 has value \"12,5\" which is not a number"),
        "{text}"
    );
    assert!(text.contains("stream: contacts"), "{text}");
}

#[test]
fn bad_value_nulled_and_counted_under_null_policy() {
    let s = hubspot_like();
    let body = r#"{"results":[
        {"id":"7","properties":{"amount":"n/a","closedate":"soon","optout":"maybe"}},
        {"id":"8","properties":{"amount":"3"}}]}"#;
    let page = decoder(&s, &["results"], BadValuePolicy::Null)
        .decode(body.as_bytes())
        .unwrap();
    assert_eq!(page.nulled_count, 3);
    assert_eq!(page.nulled.len(), 3);
    assert!(
        page.nulled
            .iter()
            .all(|b| b.record_key.as_deref() == Some("7"))
    );
    let amount = page
        .batch
        .column(2)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .clone();
    assert!(amount.is_null(0));
    assert_eq!(amount.value(1), 3.0);
}

#[test]
fn truncated_body_is_malformed_and_shape_errors_are_not() {
    let s = hubspot_like();
    let d = decoder(&s, &["results"], BadValuePolicy::Fail);
    let cut = &PAGE.as_bytes()[..PAGE.len() / 2];
    assert!(matches!(d.decode(cut), Err(DecodeError::Malformed(_))));
    assert!(matches!(
        d.decode(b"<html>502 Bad Gateway</html>"),
        Err(DecodeError::Malformed(_))
    ));
    assert!(matches!(
        d.decode(br#"{"results":{"id":"1"}}"#),
        Err(DecodeError::Shape(_))
    ));
    assert!(matches!(
        d.decode(br#"{"results":[1,2]}"#),
        Err(DecodeError::Shape(_))
    ));
    // Trailing garbage after a complete document is malformed too.
    assert!(matches!(
        d.decode(br#"{"results":[]} x"#),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn missing_or_null_records_array_is_an_empty_page() {
    let s = hubspot_like();
    let d = decoder(&s, &["results"], BadValuePolicy::Fail);
    assert_eq!(d.decode(br#"{"results":[]}"#).unwrap().batch.num_rows(), 0);
    assert_eq!(
        d.decode(br#"{"results":null}"#).unwrap().batch.num_rows(),
        0
    );
    assert_eq!(d.decode(br#"{"total":0}"#).unwrap().batch.num_rows(), 0);
}

#[test]
fn root_array_nested_selector_epochs_decimals_lists() {
    let s = StreamSchema::new(vec![
        Column::new("id", T::Int64),
        Column::new("created", T::Timestamp).epoch(EpochUnit::Seconds),
        Column::new(
            "amount",
            T::Decimal {
                precision: 18,
                scale: 2,
            },
        ),
        Column::new("tags", T::StringList),
        Column::nested(&["via", "channel"], T::Utf8),
        Column::new("score", T::Utf8),
    ])
    .unwrap();
    let body = r#"[{"id":1,"created":1714658591,"amount":1999,"tags":["vip","eu"],"via":{"channel":"email"},"score":4.5},
                  {"id":"2","created":"1714658592","amount":"12.34","tags":null,"via":null,"score":true}]"#;
    let d = RecordDecoder::new(&s, &[], &["id".to_string()], BadValuePolicy::Fail).unwrap();
    let b = d.decode(body.as_bytes()).unwrap().batch;
    assert_eq!(b.num_rows(), 2);
    let ts = b
        .column(1)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(ts.value(0), 1_714_658_591_000_000);
    assert_eq!(ts.value(1), 1_714_658_592_000_000);
    let dec = b
        .column(2)
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!(dec.value(0), 199_900);
    assert_eq!(dec.value(1), 1_234);
    let tags = b.column(3).as_any().downcast_ref::<ListArray>().unwrap();
    // Lists are declared (and built) with Delta's item name, so they read back unchanged.
    assert_eq!(tags.data_type(), &T::StringList.arrow_type());
    assert_eq!(
        b.schema().field(3).data_type().to_string(),
        "List(Utf8, field: 'element')"
    );
    assert_eq!(tags.value_length(0), 2);
    assert!(tags.is_null(1));
    assert_eq!(b.schema().field(4).name(), "via__channel");
    let ch = b.column(4).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(ch.value(0), "email");
    assert!(ch.is_null(1));
    let score = b.column(5).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(score.value(0), "4.5");
    assert_eq!(score.value(1), "true");

    // Records nested two levels deep, envelope fields kept from both levels.
    let s2 = StreamSchema::new(vec![Column::new("id", T::Utf8)]).unwrap();
    let d2 = RecordDecoder::new(&s2, &["data", "items"], &[], BadValuePolicy::Fail).unwrap();
    let page = d2
        .decode(br#"{"data":{"items":[{"id":"a"}],"next":"c2"},"has_more":true}"#)
        .unwrap();
    assert_eq!(page.batch.num_rows(), 1);
    assert_eq!(page.envelope["next"], "c2");
    assert_eq!(page.envelope["has_more"], true);
}

#[test]
fn object_where_scalar_declared_is_a_bad_value() {
    let s = StreamSchema::new(vec![
        Column::new("id", T::Utf8),
        Column::new("name", T::Utf8),
        Column::nested(&["owner", "id"], T::Utf8),
    ])
    .unwrap();
    let d = RecordDecoder::new(&s, &[], &["id".to_string()], BadValuePolicy::Fail).unwrap();
    let err = d
        .decode(br#"[{"id":"1","name":{"first":"x"}}]"#)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("field `name` of record 1 has value {object}"),
        "{err}"
    );
    let err = d.decode(br#"[{"id":"1","owner":"bob"}]"#).unwrap_err();
    assert!(err.to_string().contains("field `owner__id`"), "{err}");
}

#[test]
fn duplicate_keys_keep_the_first_value() {
    let s = StreamSchema::new(vec![Column::new("id", T::Utf8)]).unwrap();
    let d = RecordDecoder::new(&s, &[], &[], BadValuePolicy::Fail).unwrap();
    let b = d.decode(br#"[{"id":"1","id":"2"}]"#).unwrap().batch;
    assert_eq!(
        b.column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0),
        "1"
    );
}

#[test]
fn escaped_keys_and_values() {
    let s = StreamSchema::new(vec![Column::new("na\"me", T::Utf8)]).unwrap();
    let d = RecordDecoder::new(&s, &[], &[], BadValuePolicy::Fail).unwrap();
    let b = d.decode(br#"[{"na\"me":"a\nb \u00e9"}]"#).unwrap().batch;
    assert_eq!(
        b.column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0),
        "a\nb é"
    );
}

#[test]
fn envelope_counts_records_and_keeps_last() {
    let env = read_envelope(PAGE.as_bytes(), &["results".to_string()]).unwrap();
    assert_eq!(env.record_count, 3);
    assert_eq!(env.text("paging.next.after").as_deref(), Some("104"));
    assert_eq!(env.last_record_value().unwrap()["id"], "103");
    assert!(matches!(
        read_envelope(&PAGE.as_bytes()[..100], &["results".to_string()]),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn array_index_paths_select_elements_positionally() {
    // GA4-style rows: values by position, described by headers.
    let schema = StreamSchema::new(vec![
        Column::nested(&["dimensionValues", "0", "value"], T::Date).named("date"),
        Column::nested(&["dimensionValues", "2", "value"], T::Utf8).named("medium"),
        Column::nested(&["metricValues", "0", "value"], T::Int64).named("sessions"),
        Column::nested(
            &["metricValues", "1", "value"],
            T::Decimal {
                precision: 18,
                scale: 2,
            },
        )
        .named("revenue"),
        Column::nested(&["pivotValues", "0"], T::Utf8).named("pivot"),
        Column::nested(&["tags", "1"], T::Json).named("second_tag"),
    ])
    .unwrap();
    let body = r#"{"rows":[
      {"dimensionValues":[{"value":"20240501"},{"value":"google"},{"value":"cpc"}],
       "metricValues":[{"value":"1843"},{"value":"4821.5"},{"value":"9"}],
       "pivotValues":["urn:li:sponsoredCampaign:1"],"tags":["a",{"b":1}]},
      {"dimensionValues":[{"value":"20240502"}],"metricValues":[],"pivotValues":[]},
      {"dimensionValues":{"value":"x"}}
    ],"rowCount":3}"#;
    let d = RecordDecoder::new(&schema, &["rows"], &[], BadValuePolicy::Null).unwrap();
    let page = d.decode(body.as_bytes()).unwrap();
    let b = &page.batch;
    assert_eq!(b.num_rows(), 3);
    let date = b.column(0).as_any().downcast_ref::<Date32Array>().unwrap();
    assert_eq!(date.value(0), 19844); // 2024-05-01
    assert_eq!(date.value(1), 19845);
    let medium = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(medium.value(0), "cpc");
    assert!(medium.is_null(1), "short arrays leave later columns null");
    let sessions = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(sessions.value(0), 1843);
    assert!(sessions.is_null(1));
    let revenue = b
        .column(3)
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!(revenue.value(0), 482_150);
    let pivot = b.column(4).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(pivot.value(0), "urn:li:sponsoredCampaign:1");
    let tag = b.column(5).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(tag.value(0), r#"{"b":1}"#);
    // An object where an array was indexed is a bad value (nulled and counted here).
    assert!(date.is_null(2));
    assert_eq!(page.nulled_count, 2);
}
