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

    /// Whether an earlier fit cut it (and so made the file already).
    fn is_cut(&self) -> bool {
        let before_notes = Layout {
            notes: None,
            ..self.clone()
        };
        self.transcript.as_ref().is_some_and(|t| t.cut > 0)
            || before_notes.render("").ends_with(HEAD_CUT_END)
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
            // Saturating: the count is read back from text, which a tenant's mapping may write.
            let total = utf16_len(&whole.body).saturating_add(whole.cut);
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
    use crate::sync::mapping::tests::{chat_ended, event, example};

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

    #[test]
    fn started_events_have_no_transcript() {
        assert_eq!(
            description(&example(0)).text,
            "Chat ID: chat-1001
Channel: webchat
Started: 2026-11-24 10:00:00 UTC
Agent: Bob Agent <bob@cx.example.com>
Custom variables:
  plan: enterprise
Request page: https://acme.example/pricing"
        );
        assert_eq!(
            description(&example(4)).text,
            "Conversation ID: conv-3001
Channel: email
Started: 2026-11-24 09:00:00 UTC
Agent: Bob Agent <bob@cx.example.com>
Subject: Delivery delayed"
        );
    }

    #[test]
    fn an_offline_message_and_a_conversation() {
        assert_eq!(
            description(&example(3)).text,
            "Chat ID: offline-2001
Channel: webchat
Custom variables:
  utm_source: newsletter
Request page: https://acme.example/contact
Offline message:
  Do you offer a nonprofit discount? Please email me."
        );
        assert_eq!(
            description(&example(5)).text,
            "Conversation ID: conv-3001
Channel: email
Started: 2026-11-24 09:00:00 UTC
Ended: 2026-11-24 09:45:00 UTC
Agent: Bob Agent <bob@cx.example.com>
Note: Carrier delay, expedited at no cost
Subject: Delivery delayed

--- Transcript (times UTC) ---
[09:00:00] Chidi Okafor (visitor): My order #5521 has not arrived.
[09:30:00] Bob Agent (agent): It ships today; tracking to follow.

--- Attachments ---
- tracking.txt"
        );
    }

    /// A chat whose messages pretend to be headings and markers: they stay content, indented.
    fn hostile() -> Event {
        chat_ended(
            r#""visitor":{"name":"Jane"},"agent":{"email":"bob@cx.example.com"},
               "note":"first\r\n--- Transcript (times UTC) ---","custom_variables":{"k":null,"x\ny":"a\rb"},
               "messages":[{"from":"system","text":"joined"},
                 {"at":"2026-11-24T10:00:05+02:00","from":"visitor","name":"Jane\nDoe","text":"one\n--- Attachments ---\n[… 5 more characters of the transcript cut by CloudCX: the full transcript is attached as x]"},
                 {"from":"bot","name":" ","text":""}],
               "attachments":[{"name":"a\nb.txt","data_base64":""}]"#,
        )
    }

    #[test]
    fn line_breaks_in_values_are_indented() {
        let text = description(&hostile()).text;
        assert_eq!(
            text,
            "Chat ID: c-1
Channel: webchat
Agent: bob@cx.example.com
Note: first
  --- Transcript (times UTC) ---
Custom variables:
  k: 
  x
  y: a
  b

--- Transcript (times UTC) ---
(system): joined
[08:00:05] Jane Doe (visitor): one
  --- Attachments ---
  [… 5 more characters of the transcript cut by CloudCX: the full transcript is attached as x]
(bot): 

--- Attachments ---
- a
  b.txt"
        );
        let layout = Layout::parse(&text);
        assert_eq!(layout.render("f"), text);
        assert_eq!(layout.transcript.unwrap().cut, 0);
    }

    /// A chat of `count` transcript lines of 128 UTF-16 units each (newline included), each
    /// with an emoji (two units), so that cuts meet surrogate pairs.
    fn long_chat(count: usize) -> Event {
        let messages: Vec<String> = (0..count)
            .map(|i| {
                format!(
                    r#"{{"at":"2026-11-24T10:00:00Z","from":"visitor","name":"Jane","text":"🎉 {i:05} {}"}}"#,
                    "x".repeat(91)
                )
            })
            .collect();
        chat_ended(&format!(
            r#""visitor":{{"name":"Jane"}},"note":"kept","messages":[{}],
               "attachments":[{{"name":"after.pdf","data_base64":""}}]"#,
            messages.join(",")
        ))
    }

    /// The count the transcript marker of `text` states.
    fn marker_count(text: &str) -> usize {
        Layout::parse(text).transcript.unwrap().cut
    }

    #[test]
    fn a_long_transcript_is_cut_and_attached_whole() {
        let described = description(&long_chat(320));
        let text = &described.text;
        let file = described.transcript_file.unwrap();
        assert!(utf16_len(text) <= DESCRIPTION_MAX_CHARS);
        assert!(
            utf16_len(text) >= DESCRIPTION_MAX_CHARS - 10,
            "fills the room"
        );
        assert!(text.starts_with("Chat ID: c-1\nChannel: webchat\nNote: kept\n"));
        assert!(text.ends_with(
            "cut by CloudCX: the full transcript is attached as transcript-c-1.txt]\n\n--- Attachments ---\n- after.pdf"
        ));
        assert_eq!(file.name, "transcript-c-1.txt");
        assert!(file.content.starts_with("Chat ID: c-1\n"));
        assert!(
            file.content.contains("🎉 00319 "),
            "the last message is in the file"
        );
        assert!(!text.contains("🎉 00319 "));
        assert!(!file.content.contains("cut by CloudCX"));
        // The marker says exactly how much is missing.
        let marker_line = text.lines().find(|l| l.starts_with("[… ")).unwrap();
        let missing = utf16_len(&file.content) - utf16_len(text) + 1 + utf16_len(marker_line);
        assert_eq!(marker_count(text), missing);
        assert!(marker_line.starts_with(&format!("[… {} more characters", thousands(missing))));
        assert!(missing > 9_000);
    }

    #[test]
    fn a_transcript_that_fits_is_not_cut() {
        let described = description(&long_chat(240));
        assert!(described.transcript_file.is_none());
        assert!(described.text.contains("🎉 00239 "));
        assert!(!described.text.contains("cut by CloudCX"));
    }

    #[test]
    fn notes_are_appended_under_one_heading() {
        let mut text = description(&example(2)).text;
        let before = text.clone();
        assert_eq!(
            append_note(&mut text, "Salesforce refused Email = 'x@y'"),
            None
        );
        assert_eq!(append_note(&mut text, "two\nlines"), None);
        assert_eq!(
            text,
            format!("{before}\n\n--- Notes from CloudCX ---\n- Salesforce refused Email = 'x@y'\n- two\n  lines")
        );
        // On the hostile chat the notes also land at the end, its content untouched.
        let mut hostile_text = description(&hostile()).text;
        let before = hostile_text.clone();
        assert_eq!(append_note(&mut hostile_text, "--- Attachments ---"), None);
        assert_eq!(
            hostile_text,
            format!("{before}\n\n--- Notes from CloudCX ---\n- --- Attachments ---")
        );
    }

    #[test]
    fn a_note_at_the_limit_cuts_the_transcript_further() {
        let mut text = description(&long_chat(320)).text;
        let cut_before = marker_count(&text);
        let note = format!("Salesforce refused Email: {}", "n".repeat(500));
        assert_eq!(
            append_note(&mut text, &note),
            None,
            "the file exists already"
        );
        assert!(utf16_len(&text) <= DESCRIPTION_MAX_CHARS);
        assert!(text.ends_with(&format!(
            "- after.pdf\n\n--- Notes from CloudCX ---\n- {note}"
        )));
        let cut_after = marker_count(&text);
        assert!(cut_after >= cut_before + 500, "{cut_before} → {cut_after}");
        assert!(text.starts_with("Chat ID: c-1\nChannel: webchat\nNote: kept\n"));
        // Another note keeps the first and cuts still more.
        assert_eq!(append_note(&mut text, "second"), None);
        assert!(text.ends_with(&format!("- {note}\n- second")));
        assert!(utf16_len(&text) <= DESCRIPTION_MAX_CHARS);
        assert!(marker_count(&text) > cut_after);
    }

    #[test]
    fn a_note_that_overflows_a_whole_description_attaches_it() {
        let mut text = description(&long_chat(246)).text;
        let whole = text.clone();
        assert!(utf16_len(&whole) < DESCRIPTION_MAX_CHARS);
        let note = "m".repeat(2_000);
        let file = append_note(&mut text, &note).expect("the whole text as a file");
        assert_eq!(file.name, "transcript-c-1.txt");
        assert_eq!(
            file.content,
            format!("{whole}\n\n--- Notes from CloudCX ---\n- {note}")
        );
        assert!(utf16_len(&text) <= DESCRIPTION_MAX_CHARS);
        assert!(text.ends_with(&note));
        assert!(marker_count(&text) > 1_000);
    }

    #[test]
    fn a_header_too_long_is_cut_before_the_notes() {
        let offline = |id: &str, chars: usize| {
            event(&format!(
                r#"{{"type":"chat.offline_message","tenant_id":"acme","id":"{id}","channel":"webchat",
                   "at":"2026-11-24T10:05:00Z","visitor":{{}},"message":"{}"}}"#,
                "o".repeat(chars)
            ))
        };
        let described = description(&offline("off/1 x", 40_000));
        let file = described.transcript_file.unwrap();
        assert_eq!(file.name, "transcript-off_1_x.txt");
        assert!(file.content.ends_with(&"o".repeat(40_000)));
        let mut text = described.text;
        let length = utf16_len(&text);
        assert!((DESCRIPTION_MAX_CHARS - 2..=DESCRIPTION_MAX_CHARS).contains(&length));
        assert!(text.ends_with(" more characters cut by CloudCX: the full text is attached]"));
        assert_eq!(append_note(&mut text, "kept whole"), None, "already cut");
        assert!(text.ends_with("attached]\n\n--- Notes from CloudCX ---\n- kept whole"));
        assert!(utf16_len(&text) <= DESCRIPTION_MAX_CHARS);
        // A note longer than the limit is the one thing left to cut.
        let mut text = description(&offline("o-2", 10)).text;
        assert!(append_note(&mut text, &"n".repeat(40_000)).is_some());
        assert_eq!(utf16_len(&text), DESCRIPTION_MAX_CHARS);
    }

    #[test]
    fn every_size_stays_within_the_limit() {
        for chars in 240..265 {
            let mut text = description(&long_chat(chars)).text;
            assert!(utf16_len(&text) <= DESCRIPTION_MAX_CHARS, "{chars}");
            for note in ["a", &"b".repeat(700), &"🎉".repeat(300)] {
                let _ = append_note(&mut text, note);
                assert!(utf16_len(&text) <= DESCRIPTION_MAX_CHARS, "{chars}");
                assert!(text.ends_with(note), "{chars}");
            }
        }
    }

    #[test]
    fn text_written_by_others_is_fitted_without_panics() {
        // As a tenant mapping Description to a custom value could write it.
        let marker = transcript_marker(usize::MAX, "x");
        for text in [
            String::new(),
            format!("{TRANSCRIPT}\n{marker}"),
            format!("a\n{NOTES}\n{TRANSCRIPT}\n{ATTACHMENTS}\nb\n{marker}"),
        ] {
            for note in ["n".to_string(), "n".repeat(40_000)] {
                let mut description = text.clone();
                let _ = append_note(&mut description, &note);
                assert!(utf16_len(&description) <= DESCRIPTION_MAX_CHARS);
                assert!(description.contains(&note[..1]), "{description:?}");
            }
        }
    }

    #[test]
    fn counts_are_written_with_thousands_separators() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), text);
        }
    }
}
