//! The `.mod` stage: a go.mod from upstream must be small, parse, and have
//! exactly one `module` directive (go-protocol.md §1.1, §3.3).
//!
//! Only the lexical structure and the `module` directive are checked, without
//! re-implementing all of `x/mod/modfile`. Which path the directive names is
//! not compared with the requested path: a fork fetched through `replace A =>
//! Fork vX` declares `module A`, and cmd/go (modload `goModSummary`) accepts
//! either path. The bytes themselves are proven by the checksum database or a
//! pin, so a swapped go.mod is refused by its hash, not by its module line.

use bytes::Bytes;

use crate::artifact::H1;
use crate::xmod::dirhash;

/// `x/mod/zip.MaxGoMod` and cmd/go `codehost.MaxGoMod`.
pub const MAX_GO_MOD: u64 = 16 << 20;

/// Proof token: a go.mod that passed [`check_mod`]. Fields are private; only
/// `check_mod` builds it.
#[derive(Debug, Clone)]
pub struct ModChecked {
    module: String,
    version: String,
    bytes: Bytes,
    h1: H1,
}

impl ModChecked {
    /// The requested module path.
    pub fn module(&self) -> &str {
        &self.module
    }
    /// The requested (canonical) version.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// The exact bytes that were checked and hashed.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
    /// `h1:` of the go.mod, as in `path version/go.mod h1:…`.
    pub fn h1(&self) -> &H1 {
        &self.h1
    }
}

/// Why a go.mod was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModError {
    /// Larger than [`MAX_GO_MOD`].
    #[error("go.mod is too large ({size} bytes; limit is {limit} bytes)")]
    TooLarge { size: u64, limit: u64 },
    /// Not UTF-8 (the go command's parser rejects it too).
    #[error("go.mod is not valid UTF-8")]
    NotUtf8,
    /// A lexical error.
    #[error("go.mod:{line}: {msg}")]
    Syntax { line: usize, msg: String },
    /// No `module` directive.
    #[error("go.mod has no module directive")]
    NoModule,
    /// More than one `module` directive.
    #[error("go.mod:{line}: repeated module directive")]
    RepeatedModule { line: usize },
}

impl ModError {
    /// Stable metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            ModError::TooLarge { .. } => "mod_too_large",
            ModError::NotUtf8 | ModError::Syntax { .. } => "mod_syntax",
            ModError::NoModule | ModError::RepeatedModule { .. } => "mod_no_module",
        }
    }
}

/// Checks a go.mod served for `module@version` and hashes it.
pub fn check_mod(module: &str, version: &str, bytes: Bytes) -> Result<ModChecked, ModError> {
    if bytes.len() as u64 > MAX_GO_MOD {
        return Err(ModError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_GO_MOD,
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| ModError::NotUtf8)?;
    // The declared path is the go command's to judge (see the module doc).
    module_directive(text)?;
    let h1 = dirhash::hash_go_mod(&bytes);
    Ok(ModChecked {
        module: module.to_owned(),
        version: version.to_owned(),
        bytes,
        h1,
    })
}

/// One token of a go.mod line (x/mod/modfile/read.go lexer, simplified).
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    LParen,
    RParen,
}

/// Splits one line into tokens, dropping `//` comments and unquoting strings.
fn tokenize(line: &str, lineno: usize) -> Result<Vec<Token>, ModError> {
    let syntax = |msg: &str| ModError::Syntax {
        line: lineno,
        msg: msg.to_owned(),
    };
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '/' if line[i..].starts_with("//") => break,
            '(' => {
                chars.next();
                out.push(Token::LParen);
            }
            ')' => {
                chars.next();
                out.push(Token::RParen);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, e)) => s.push(e),
                            None => return Err(syntax("unterminated quoted string")),
                        },
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(syntax("unterminated quoted string"));
                }
                out.push(Token::Word(s));
            }
            '`' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '`' {
                        closed = true;
                        break;
                    }
                    s.push(c);
                }
                if !closed {
                    return Err(syntax("unterminated raw string"));
                }
                out.push(Token::Word(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' || c == '`' {
                        break;
                    }
                    if c == '/' && line[j..].starts_with("//") {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(Token::Word(s));
            }
        }
    }
    Ok(out)
}

/// One directive of a go.mod or go.work file: a line, or one entry of a
/// `verb ( … )` block, with its verb and its words (quotes removed,
/// comments dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// 1-based line number.
    pub line: usize,
    /// `module`, `require`, `replace`, `toolchain`, `use`, …
    pub verb: String,
    /// The words after the verb (`=>` is a word of its own).
    pub args: Vec<String>,
}

/// Every directive of a go.mod or go.work, checking that blocks are
/// balanced: the lexical structure `x/mod/modfile` reads, without judging
/// what each verb means (`goward mirror --from` reads `require`, `replace`,
/// `toolchain` and `use` from it).
pub fn directives(text: &str) -> Result<Vec<Directive>, ModError> {
    let mut out = Vec::new();
    // The verb of the block we are in, if any.
    let mut block: Option<(String, usize)> = None;
    for (idx, line) in text.lines().enumerate() {
        let lineno = idx.saturating_add(1);
        let toks = tokenize(line, lineno)?;
        let Some(first) = toks.first() else { continue };
        let mut entry: Option<(String, Vec<&Token>)> = None;
        match (&block, first) {
            (Some(_), Token::RParen) => {
                if toks.len() != 1 {
                    return Err(ModError::Syntax {
                        line: lineno,
                        msg: "unexpected tokens after )".into(),
                    });
                }
                block = None;
            }
            (Some((verb, _)), _) => entry = Some((verb.clone(), toks.iter().collect())),
            (None, Token::Word(verb)) => {
                if toks.last() == Some(&Token::LParen) {
                    if toks.len() != 2 {
                        return Err(ModError::Syntax {
                            line: lineno,
                            msg: "unexpected tokens before (".into(),
                        });
                    }
                    block = Some((verb.clone(), lineno));
                } else {
                    entry = Some((verb.clone(), toks.iter().skip(1).collect()));
                }
            }
            (None, _) => {
                return Err(ModError::Syntax {
                    line: lineno,
                    msg: "unexpected parenthesis".into(),
                });
            }
        }
        if let Some((verb, args)) = entry {
            let mut words = Vec::with_capacity(args.len());
            for t in args {
                match t {
                    Token::Word(w) => words.push(w.clone()),
                    _ => {
                        return Err(ModError::Syntax {
                            line: lineno,
                            msg: "unexpected parenthesis".into(),
                        });
                    }
                }
            }
            out.push(Directive {
                line: lineno,
                verb,
                args: words,
            });
        }
    }
    if let Some((_, line)) = block {
        return Err(ModError::Syntax {
            line,
            msg: "unterminated block".into(),
        });
    }
    Ok(out)
}

/// Returns the path of the single `module` directive.
fn module_directive(text: &str) -> Result<String, ModError> {
    let mut found: Option<String> = None;
    for d in directives(text)? {
        if d.verb != "module" {
            continue;
        }
        if found.is_some() {
            return Err(ModError::RepeatedModule { line: d.line });
        }
        match d.args.as_slice() {
            [p] => found = Some(p.clone()),
            _ => {
                return Err(ModError::Syntax {
                    line: d.line,
                    msg: "usage: module module/path".into(),
                });
            }
        }
    }
    found.ok_or(ModError::NoModule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<ModChecked, ModError> {
        check_mod("example.com/m", "v1.0.0", Bytes::from(text.to_owned()))
    }

    #[test]
    fn accepts_real_go_mods() {
        let ok = [
            "module example.com/m\n",
            "module example.com/m\n\ngo 1.21\n\nrequire (\n\tgolang.org/x/text v0.3.0 // indirect\n)\n",
            "// Deprecated: use v2\nmodule \"example.com/m\"\n",
            "module example.com/m // comment\nretract [v1.0.0, v1.0.1]\n",
            "module (\n\texample.com/m\n)\n",
            "module `example.com/m`\n",
        ];
        for t in ok {
            check(t).unwrap_or_else(|e| panic!("{t:?}: {e}"));
            assert_eq!(module_directive(t).unwrap(), "example.com/m", "{t:?}");
        }
    }

    /// `replace github.com/sirupsen/logrus => github.com/Sirupsen/logrus v1.9.3`: the fork's
    /// go.mod names the original path, which the go command accepts for a replacement.
    #[test]
    fn accepts_a_fork_declaring_the_original_path() {
        let c = check_mod(
            "github.com/Sirupsen/logrus",
            "v1.9.3",
            Bytes::from_static(b"module github.com/sirupsen/logrus\n\ngo 1.13\n"),
        )
        .unwrap();
        assert_eq!(c.module(), "github.com/Sirupsen/logrus");
        assert_eq!(c.version(), "v1.9.3");
    }

    #[test]
    fn hash_is_go_mod_h1() {
        let c = check_mod(
            "golang.org/toolchain",
            "v0.0.1-go1.21.9.linux-amd64",
            Bytes::from_static(b"module golang.org/toolchain\n"),
        )
        .unwrap();
        assert_eq!(
            c.h1().as_str(),
            "h1:8wlg68NqwW7eMnI1aABk/C2pDYXj8mrMY4TyRfiLeS0="
        );
    }

    #[test]
    fn rejects_bad_go_mods_with_the_exact_reason() {
        let cases: &[(&str, ModError)] = &[
            ("", ModError::NoModule),
            ("go 1.21\n", ModError::NoModule),
            (
                "module example.com/m\nmodule example.com/m\n",
                ModError::RepeatedModule { line: 2 },
            ),
            (
                "module \"example.com/m\n",
                ModError::Syntax {
                    line: 1,
                    msg: "unterminated quoted string".into(),
                },
            ),
            (
                "require (\n\tx v1\n",
                ModError::Syntax {
                    line: 1,
                    msg: "unterminated block".into(),
                },
            ),
            (
                "module a b\n",
                ModError::Syntax {
                    line: 1,
                    msg: "usage: module module/path".into(),
                },
            ),
            (
                ")\n",
                ModError::Syntax {
                    line: 1,
                    msg: "unexpected parenthesis".into(),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(check(text).unwrap_err(), *want, "{text:?}");
        }
    }

    #[test]
    fn rejects_non_utf8_and_oversize() {
        assert_eq!(
            check_mod(
                "example.com/m",
                "v1.0.0",
                Bytes::from_static(b"module \xff\n")
            )
            .unwrap_err(),
            ModError::NotUtf8
        );
        let big = Bytes::from(vec![b' '; MAX_GO_MOD as usize + 1]);
        assert_eq!(
            check_mod("example.com/m", "v1.0.0", big).unwrap_err(),
            ModError::TooLarge {
                size: MAX_GO_MOD + 1,
                limit: MAX_GO_MOD
            }
        );
    }
}
