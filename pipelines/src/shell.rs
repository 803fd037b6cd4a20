//! `revline shell`: an interactive SQL prompt over the whole lake (raw streams, connector
//! unions, models, `_revline.runs`), with history, multi-line statements ending in `;`,
//! `\d` (tables), `\d NAME` (columns), `\timing`, and aligned tables.

use std::time::Instant;

use datafusion::prelude::SessionContext;

use crate::query::{OutputFormat, render};

/// What one input produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Nothing yet (a statement continues on the next line).
    More,
    /// Text to print.
    Text(String),
    /// Leave the shell.
    Quit,
}

/// The shell's state: the session, the statement being typed, and settings.
pub struct Shell {
    ctx: SessionContext,
    buffer: String,
    timing: bool,
}

const HELP: &str = "\
Statements end with `;` and may span lines.
  \\d            list tables
  \\d NAME       describe a table (NAME or schema.NAME)
  \\timing       toggle query timing (on by default)
  \\q            quit (also Ctrl-D)
Tables: <source>.<stream>, <connector>.<stream> (all sources of a connector), models by name,
_revline.runs (run history).";

impl Shell {
    /// A shell over `ctx`.
    pub fn new(ctx: SessionContext) -> Shell {
        Shell {
            ctx,
            buffer: String::new(),
            timing: true,
        }
    }

    /// The prompt for the next line.
    pub fn prompt(&self) -> &'static str {
        if self.buffer.trim().is_empty() {
            "revline> "
        } else {
            "     ..> "
        }
    }

    /// The help text.
    pub fn help() -> &'static str {
        HELP
    }

    /// Handles one input line.
    pub async fn line(&mut self, line: &str) -> Reply {
        let trimmed = line.trim();
        if self.buffer.trim().is_empty() && trimmed.starts_with('\\') {
            return self.command(trimmed).await;
        }
        if trimmed.is_empty() && self.buffer.trim().is_empty() {
            return Reply::More;
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if !trimmed.ends_with(';') {
            return Reply::More;
        }
        let sql = std::mem::take(&mut self.buffer);
        Reply::Text(self.run(sql.trim().trim_end_matches(';')).await)
    }

    async fn run(&self, sql: &str) -> String {
        let start = Instant::now();
        let result = match self.ctx.sql(sql).await {
            Ok(df) => df.collect().await,
            Err(e) => Err(e),
        };
        match result {
            Err(e) => format!("error: {e}"),
            Ok(batches) => {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                let mut out = if batches.is_empty() || batches[0].num_columns() == 0 {
                    String::new()
                } else {
                    render(&batches, OutputFormat::Table).unwrap_or_else(|e| format!("error: {e}"))
                        + "\n"
                };
                out.push_str(&format!("({rows} row{})", if rows == 1 { "" } else { "s" }));
                if self.timing {
                    out.push_str(&format!(" in {:.3}s", start.elapsed().as_secs_f64()));
                }
                out
            }
        }
    }

    async fn command(&mut self, cmd: &str) -> Reply {
        let mut parts = cmd.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("\\q" | "\\quit"), _) => Reply::Quit,
            (Some("\\?" | "\\h" | "\\help"), _) => Reply::Text(HELP.to_string()),
            (Some("\\timing"), _) => {
                self.timing = !self.timing;
                Reply::Text(format!(
                    "timing is {}",
                    if self.timing { "on" } else { "off" }
                ))
            }
            (Some("\\d"), None) => Reply::Text(
                self.run(
                    "SELECT table_schema AS schema, table_name AS name, table_type AS type \
                     FROM information_schema.tables WHERE table_schema <> 'information_schema' \
                     ORDER BY table_schema, table_name",
                )
                .await,
            ),
            (Some("\\d"), Some(name)) => {
                let (schema, table) = match name.split_once('.') {
                    Some((s, t)) => (Some(s), t),
                    None => (None, name),
                };
                let esc = |s: &str| s.replace('\'', "''");
                let filter = match schema {
                    Some(s) => format!(
                        "table_schema = '{}' AND table_name = '{}'",
                        esc(s),
                        esc(table)
                    ),
                    None => format!("table_name = '{}' AND table_schema = 'public'", esc(table)),
                };
                let text = self
                    .run(&format!(
                        "SELECT column_name AS column, data_type AS type, is_nullable AS nullable \
                         FROM information_schema.columns WHERE {filter} ORDER BY ordinal_position"
                    ))
                    .await;
                if text.starts_with("(0 rows") {
                    Reply::Text(format!("no table named `{name}` (list them with \\d)"))
                } else {
                    Reply::Text(text)
                }
            }
            _ => Reply::Text(format!("unknown command `{cmd}` (\\? for help)")),
        }
    }
}

/// Runs the shell on the terminal (with line editing and history) or on piped stdin.
pub async fn run_interactive(mut shell: Shell, history: Option<std::path::PathBuf>) -> i32 {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            match shell.line(&line).await {
                Reply::More => {}
                Reply::Text(t) => println!("{t}"),
                Reply::Quit => return 0,
            }
        }
        return 0;
    }
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start line editing: {e}");
            return 1;
        }
    };
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("revline shell: SQL over the lake. \\? for help, \\q to quit.");
    loop {
        match editor.readline(shell.prompt()) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                match shell.line(&line).await {
                    Reply::More => {}
                    Reply::Text(t) => println!("{t}"),
                    Reply::Quit => break,
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => {
                shell.buffer.clear();
                println!("^C");
            }
            Err(_) => break,
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    0
}
