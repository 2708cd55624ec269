//! The Description of a Case or Task: the chat or conversation as plain text, within
//! Salesforce's 32,000 characters.
//!
//! Layout (sections apart by a blank line; every value's continuation lines are indented and
//! list items start with `- `, so no content line can pass for a heading):
//!
//! ```text
//! Chat ID: chat-1001
//! Channel: webchat
//! Started: 2026-11-24 10:00:00 UTC
//! ...
//!
//! --- Transcript (times UTC) ---
//! [10:00:05] Jane Doe (visitor): Hi
//! [… 1,234 more characters of the transcript cut by CloudCX: the full transcript is attached as transcript-chat-1001.txt]
//!
//! --- Attachments ---
//! - invoice.pdf
//!
//! --- Notes from CloudCX ---
//! - Salesforce refused Email = 'x@y' (INVALID_EMAIL_ADDRESS): …; written without it
//! ```
//!
//! A transcript too long is cut from its end, never the header or the notes, and the whole
//! Description goes with the record as a text file.

use time::{OffsetDateTime, UtcOffset};

use crate::events::{Author, Event, EventKind, Message};

use super::mapping::{custom_text, parts_of, text, TextFile};

/// The longest Description of a Case or Task.
pub const DESCRIPTION_MAX_CHARS: usize = 32_000;

const TRANSCRIPT: &str = "--- Transcript (times UTC) ---";
const ATTACHMENTS: &str = "--- Attachments ---";
const NOTES: &str = "--- Notes from CloudCX ---";
const HEADINGS: [&str; 3] = [TRANSCRIPT, ATTACHMENTS, NOTES];

/// The Description text, and the whole of it as a file when the text had to be cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub text: String,
    pub transcript_file: Option<TextFile>,
}

pub fn description(event: &Event) -> Description {
    let parts = parts_of(event);
    let mut head = Vec::new();
    let chat = !matches!(
        event.kind(),
        EventKind::InboxConversationStarted | EventKind::InboxConversationEnded
    );
    let id_label = if chat { "Chat ID" } else { "Conversation ID" };
    push_value(&mut head, id_label, Some(&event.id));
    push_value(&mut head, "Channel", Some(&event.channel));
    push_value(
        &mut head,
        "Started",
        parts.started_at.map(utc_time).as_deref(),
    );
    push_value(&mut head, "Ended", parts.ended_at.map(utc_time).as_deref());
    let agent =
        parts.agent.and_then(
            |a| match (text(a.name.as_deref()), text(a.email.as_deref())) {
                (Some(name), Some(email)) => Some(format!("{name} <{email}>")),
                (name, email) => name.or(email),
            },
        );
    push_value(&mut head, "Agent", agent.as_deref());
    push_value(&mut head, "Note", parts.note);
    push_value(&mut head, "Wrap-up", parts.wrap_up);
    push_value(&mut head, "Subject", parts.subject);
    for (label, values) in [
        ("Custom fields", parts.custom_fields),
        ("Custom variables", parts.custom_variables),
    ] {
        let Some(values) = values.filter(|v| !v.is_empty()) else {
            continue;
        };
        head.push(format!("{label}:"));
        for (name, value) in values {
            push_block(
                &mut head,
                &format!("{name}: {}", custom_text(value).unwrap_or_default()),
            );
        }
    }
    push_value(&mut head, "Request page", parts.request_page);
    if let Some(message) = parts.message {
        head.push("Offline message:".to_string());
        push_block(&mut head, message);
    }
    let layout = Layout {
        head: head.join("\n"),
        transcript: (!parts.messages.is_empty()).then(|| Transcript {
            body: parts
                .messages
                .iter()
                .map(transcript_line)
                .collect::<Vec<_>>()
                .join("\n"),
            cut: 0,
        }),
        attachments: (!parts.attachments.is_empty()).then(|| {
            let mut lines = Vec::new();
            for attachment in parts.attachments {
                push_item(&mut lines, &attachment.name);
            }
            lines.join("\n")
        }),
        notes: None,
    };
    let file = file_name(&event.id);
    let text = layout.render(&file);
    match layout.fit(&file) {
        Some(cut) => Description {
            text: cut,
            transcript_file: Some(TextFile {
                name: file,
                content: text,
            }),
        },
        None => Description {
            text,
            transcript_file: None,
        },
    }
}

/// Adds `note` under the Description's notes, keeping it within [`DESCRIPTION_MAX_CHARS`] by
/// cutting the transcript further (then the header), never the notes.
///
/// Answers the whole Description, as a file to attach, when this note made it cut a
/// Description that was whole until now; when it was already cut, the file made then holds
/// the whole transcript.
pub fn append_note(description: &mut String, note: &str) -> Option<TextFile> {
    let mut layout = Layout::parse(description);
    let mut lines = layout.notes.take().map(|n| vec![n]).unwrap_or_default();
    push_item(&mut lines, note);
    layout.notes = Some(lines.join("\n"));
    let already_cut = layout.is_cut();
    let file = layout
        .file_name()
        .unwrap_or_else(|| "transcript.txt".to_string());
    let full = layout.render(&file);
    match layout.fit(&file) {
        Some(cut) => {
            *description = cut;
            (!already_cut).then_some(TextFile {
                name: file,
                content: full,
            })
        }
        None => {
            *description = full;
            None
        }
    }
}

/// The Description's sections, each as its lines joined, without headings.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    head: String,
    transcript: Option<Transcript>,
    attachments: Option<String>,
    notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Transcript {
    body: String,
    /// Characters already cut from its end (and said so by the marker line).
    cut: usize,
}

impl Layout {
    /// The text; `file` is named by the transcript's cut marker, if any.
    fn render(&self, file: &str) -> String {
        let mut sections = vec![self.head.clone()];
        if let Some(t) = &self.transcript {
            let mut section = format!("{TRANSCRIPT}\n{}", t.body);
            if t.cut > 0 {
                section.push('\n');
                section.push_str(&transcript_marker(t.cut, file));
            }
            sections.push(section);
        }
        if let Some(a) = &self.attachments {
            sections.push(format!("{ATTACHMENTS}\n{a}"));
        }
        if let Some(n) = &self.notes {
            sections.push(format!("{NOTES}\n{n}"));
        }
        sections.retain(|s| !s.is_empty());
        sections.join("\n\n")
    }

    /// Splits a Description this module wrote back into its sections: lines are assigned to
    /// the last heading seen, and the transcript's last line is read back as its cut marker.
    /// Text it did not write becomes the head.
    fn parse(text: &str) -> Layout {
        let mut sections: [Vec<&str>; 4] = Default::default();
        let mut seen = [true, false, false, false];
        let mut current = 0;
        for line in text.split('\n') {
            if let Some(i) = HEADINGS.iter().position(|h| *h == line) {
                // Only the first of each heading, in order: repeats stay content.
                if !seen[i + 1] && i + 1 > current {
                    current = i + 1;
                    seen[current] = true;
                    continue;
                }
            }
            sections[current].push(line);
        }
        let section = |i: usize| {
            let mut lines = sections[i].clone();
            // The blank line before the next heading is layout, not content.
            if seen
                .get(i + 1..)
                .is_some_and(|later| later.iter().any(|s| *s))
                && lines.last() == Some(&"")
            {
                lines.pop();
            }
            lines.join("\n")
        };
        let transcript = seen[1].then(|| {
            let body = section(1);
            match body.rsplit_once('\n') {
                Some((kept, last)) => match parse_transcript_marker(last) {
                    Some(cut) => Transcript {
                        body: kept.to_string(),
                        cut,
                    },
                    None => Transcript { body, cut: 0 },
                },
                None => match parse_transcript_marker(&body) {
                    Some(cut) => Transcript {
                        body: String::new(),
                        cut,
                    },
                    None => Transcript { body, cut: 0 },
                },
            }
        });
        Layout {
            head: section(0),
            transcript,
            attachments: seen[2].then(|| section(2)),
            notes: seen[3].then(|| section(3)),
        }
    }

    fn is_cut(&self) -> bool {
        self.transcript.as_ref().is_some_and(|t| t.cut > 0) || self.head.ends_with(HEAD_CUT_END)
    }

    /// The transcript file name this Description was written with: from the id on its first
    /// line.
    fn file_name(&self) -> Option<String> {
        let first = self.head.split('\n').next()?;
        let id = first
            .strip_prefix("Chat ID: ")
            .or_else(|| first.strip_prefix("Conversation ID: "))?;
        Some(file_name(id))
    }

    /// `None` when the whole fits; else the text cut to fit: the transcript from its end first,
    /// then the head, and only when the notes alone are too long, the notes.
    fn fit(&self, file: &str) -> Option<String> {
        if utf16_len(&self.render(file)) <= DESCRIPTION_MAX_CHARS {
            return None;
        }
        let mut layout = self.clone();
        if let Some(whole) = layout.transcript.take() {
            let total = utf16_len(&whole.body) + whole.cut;
            // Everything but the body, with the longest marker it could need.
            layout.transcript = Some(Transcript {
                body: String::new(),
                cut: total,
            });
            let rest = utf16_len(&layout.render(file));
            if let Some(room) = DESCRIPTION_MAX_CHARS.checked_sub(rest) {
                let body = prefix(&whole.body, room);
                layout.transcript = Some(Transcript {
                    body: body.to_string(),
                    cut: total - utf16_len(body),
                });
                return Some(layout.render(file));
            }
        }
        // Still too long without any transcript: cut what comes before the notes.
        let notes = layout
            .notes
            .take()
            .map(|n| format!("\n\n{NOTES}\n{n}"))
            .unwrap_or_default();
        let room = DESCRIPTION_MAX_CHARS.saturating_sub(utf16_len(&notes));
        let before = cut(&layout.render(file), room, |n| {
            format!(
                "[… {} more characters cut by CloudCX{HEAD_CUT_END}",
                thousands(n)
            )
        });
        Some(cut(&(before + &notes), DESCRIPTION_MAX_CHARS, |_| {
            "…".to_string()
        }))
    }
}

/// How a cut of the whole text ends (after its count), so a later note can tell it was cut.
const HEAD_CUT_END: &str = ": the full text is attached]";

fn transcript_marker(cut: usize, file: &str) -> String {
    format!(
        "[… {} more characters of the transcript cut by CloudCX: the full transcript is attached as {file}]",
        thousands(cut)
    )
}

fn parse_transcript_marker(line: &str) -> Option<usize> {
    let (count, rest) = line.strip_prefix("[… ")?.split_once(' ')?;
    let cut: usize = count.replace(',', "").parse().ok()?;
    (rest.starts_with("more characters of the transcript cut by CloudCX: ") && line.ends_with(']'))
        .then_some(cut)
}

/// `transcript-{id}.txt`, with characters other than letters, digits, `.`, `-` and `_` of the
/// id as `_` (ids may hold `/` or spaces; the name goes into `PathOnClient`).
fn file_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("transcript-{safe}.txt")
}

/// `[10:00:05] Jane Doe (visitor): Hi`; without a time, `Jane Doe (visitor): Hi`.
fn transcript_line(message: &Message) -> String {
    let role = match message.from {
        Author::Visitor => "visitor",
        Author::Agent => "agent",
        Author::Bot => "bot",
        Author::System => "system",
    };
    let speaker = match text(message.name.as_deref()) {
        Some(name) => format!("{} ({role})", one_line(&name)),
        None => format!("({role})"),
    };
    let time = message
        .at
        .map(|at| {
            let (h, m, s) = at.to_offset(UtcOffset::UTC).to_hms();
            format!("[{h:02}:{m:02}:{s:02}] ")
        })
        .unwrap_or_default();
    format!("{time}{speaker}: {}", indent(&message.text))
}

/// `2026-11-24 10:00:05 UTC`
fn utc_time(at: OffsetDateTime) -> String {
    let (h, m, s) = at.to_offset(UtcOffset::UTC).to_hms();
    format!("{} {h:02}:{m:02}:{s:02} UTC", utc_date(at))
}

/// `2026-11-24`, the UTC date (also Salesforce's format for date fields).
pub fn utc_date(at: OffsetDateTime) -> String {
    let date = at.to_offset(UtcOffset::UTC).date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `Label: value`, when there is a value.
fn push_value(lines: &mut Vec<String>, label: &str, value: Option<&str>) {
    if let Some(value) = text(value) {
        lines.push(format!("{label}: {}", indent(&value)));
    }
}

/// `- item`
fn push_item(lines: &mut Vec<String>, item: &str) {
    lines.push(format!("- {}", indent(item)));
}

/// Text indented by two spaces under the line before.
fn push_block(lines: &mut Vec<String>, block: &str) {
    lines.push(format!("  {}", indent(block)));
}

/// Continuation lines indented by two spaces (any line break, `\r\n` and `\r` included).
fn indent(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\n  ")
}

/// Names stay on one line.
fn one_line(value: &str) -> String {
    value.replace(|c: char| c.is_control(), " ")
}

/// Length as Salesforce counts it: UTF-16 code units (see [`super::mapping::fit_lengths`]).
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// The longest prefix of `text` of at most `max` UTF-16 units, never splitting a character.
fn prefix(text: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &text[..i];
        }
    }
    text
}

/// `text` within `max` UTF-16 units: whole when it fits, else a prefix followed by
/// `marker(units cut)`. A marker longer than `max` gives way to a bare `…`.
pub fn cut(text: &str, max: usize, marker: impl Fn(usize) -> String) -> String {
    let length = utf16_len(text);
    if length <= max {
        return text.to_string();
    }
    // Counts only grow longer in writing: the marker for the whole length is the longest.
    match max.checked_sub(utf16_len(&marker(length))) {
        Some(room) => {
            let kept = prefix(text, room);
            format!("{kept}{}", marker(length - utf16_len(kept)))
        }
        None if max == 0 => String::new(),
        None => format!("{}…", prefix(text, max - 1)),
    }
}

/// `1,234`
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::mapping::tests::example;

    #[test]
    fn a_chat_in_order() {
        let described = description(&example(1));
        assert_eq!(described.transcript_file, None);
        assert_eq!(
            described.text,
            "Chat ID: chat-1001
Channel: webchat
Started: 2026-11-24 10:00:00 UTC
Ended: 2026-11-24 10:07:30 UTC
Agent: Bob Agent <bob@cx.example.com>
Note: Invoice 4411 had the wrong VAT rate
Wrap-up: Billing > Invoice correction
Custom fields:
  industry: Manufacturing
Custom variables:
  plan: enterprise
Request page: https://acme.example/pricing

--- Transcript (times UTC) ---
[10:00:05] Jane Doe (visitor): Hi, my invoice is wrong
[10:00:20] Bob Agent (agent): Let me check
[10:06:50] Bob Agent (agent): I have corrected it and sent a new one.
[10:07:10] Jane Doe (visitor): Thanks!

--- Attachments ---
- invoice-4411.txt"
        );
    }
}
