//! What a name, an e-mail address or a one-line text a person typed may contain. Control
//! characters (a line break in a name adds lines to a mail; NUL cuts text short in other
//! programs) and the invisible characters that reorder or hide text (right-to-left overrides,
//! zero-width joiners: look-alike names) are refused where the text enters, with a field error.

use super::FieldError;

/// Why `c` may not appear in a one-line text, if it may not.
fn unfit(c: char) -> Option<&'static str> {
    match c {
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => Some("a control character"),
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}' => {
            Some("a character that changes the direction of text")
        }
        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => Some("an invisible character"),
        '\u{e000}'..='\u{f8ff}' => Some("a private-use character"),
        _ => None,
    }
}

/// A problem with a one-line text at `path`, if it has one: a control, direction-changing or
/// invisible character, named with its position (counted in characters from 1).
pub fn line_problem(path: &str, text: &str) -> Option<FieldError> {
    let (i, c, why) = text.chars().enumerate().find_map(|(i, c)| unfit(c).map(|why| (i, c, why)))?;
    Some(FieldError::bilingual(
        path,
        format!("character {} is {why} (U+{:04X}); write the text on one line without it", i + 1, c as u32),
        format!("第 {} 个字符是不可用的{}（U+{:04X}），请删去", i + 1, zh_reason(why), c as u32),
    ))
}

fn zh_reason(why: &str) -> &'static str {
    match why {
        "a control character" => "控制字符",
        "a character that changes the direction of text" => "文字方向控制字符",
        "an invisible character" => "不可见字符",
        _ => "私用区字符",
    }
}

/// A problem with an e-mail address at `path`, if it has one: one `@` between a local part and
/// a domain with a dot, no spaces or control characters, at most 254 characters.
pub fn email_problem(path: &str, email: &str) -> Option<FieldError> {
    if let Some(e) = line_problem(path, email) {
        return Some(e);
    }
    let shape_ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || "<>()[],;:\\\"".contains(c))
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    (!shape_ok).then(|| {
        FieldError::bilingual(
            path,
            format!("'{email}' is not an e-mail address (expected name@example.cn)"),
            format!("“{email}”不是电子邮件地址（应形如 name@example.cn）"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_control_or_invisible_characters_are_refused() {
        for ok in ["县教育局", "Zhang San", "县“三农”项目（2023）", "a-b_c.d", ""] {
            assert!(line_problem("name", ok).is_none(), "{ok:?}");
        }
        for (bad, at) in [
            ("县教育局\r\nBcc: x@evil", 5),
            ("name\0", 5),
            ("abc\u{202e}txt.exe", 4),
            ("ad\u{200b}min", 3),
            ("\u{7f}", 1),
            ("x\u{85}", 2),
        ] {
            let e = line_problem("display_name", bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(e.path, "display_name");
            assert!(e.message.starts_with(&format!("character {at} is")), "{}", e.message);
            assert!(e.zh.is_some());
        }
    }

    #[test]
    fn e_mail_addresses_have_one_at_and_a_domain() {
        for ok in ["d001@units.example.cn", "a.b+c@czj.gov.cn"] {
            assert!(email_problem("email", ok).is_none(), "{ok}");
        }
        for bad in [
            "x@evil.cn\r\nBcc: y@evil.cn",
            "no-at.example.cn",
            "a@b@c.cn",
            "a@localhost",
            "@example.cn",
            "a b@example.cn",
            "<a@example.cn>",
            "a@.cn",
        ] {
            assert!(email_problem("email", bad).is_some(), "{bad:?} accepted");
        }
    }
}
