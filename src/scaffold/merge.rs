//! A three-way merge of text, line by line (diff3): what the user changed since the base
//! and what the template changed since the base are both kept; where both changed the same
//! lines differently, the result has git-style conflict markers.
//!
//! Each side is compared with the base (Myers' diff from `similar`); base lines that are
//! unchanged on both sides anchor stable regions, and between two anchors a side that left
//! the base as it was takes the other side's change.

use similar::{capture_diff_slices, Algorithm, DiffOp};

/// The merged text and whether any region conflicted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub text: String,
    pub conflicts: usize,
}

/// Labels of the two sides in conflict markers.
pub struct Labels<'a> {
    pub ours: &'a str,
    pub theirs: &'a str,
}

/// Merges `ours` (the user's file) and `theirs` (the new template's) against `base` (what
/// the old template wrote).
pub fn merge(base: &str, ours: &str, theirs: &str, labels: &Labels) -> Merged {
    let base_lines = lines(base);
    let our_lines = lines(ours);
    let their_lines = lines(theirs);
    let ours_at = matches(&base_lines, &our_lines);
    let theirs_at = matches(&base_lines, &their_lines);

    let mut out = String::new();
    let mut conflicts = 0;
    let (mut o, mut a, mut b) = (0usize, 0usize, 0usize);
    loop {
        // The next base line kept, in order, by both sides: an anchor.
        let anchor = (o..base_lines.len()).find(
            |&i| matches!((ours_at[i], theirs_at[i]), (Some(x), Some(y)) if x >= a && y >= b),
        );
        let (o_end, a_end, b_end) = match anchor {
            Some(i) => (i, ours_at[i].unwrap(), theirs_at[i].unwrap()),
            None => (base_lines.len(), our_lines.len(), their_lines.len()),
        };
        let base_chunk = &base_lines[o..o_end];
        let our_chunk = &our_lines[a..a_end];
        let their_chunk = &their_lines[b..b_end];
        if our_chunk == base_chunk {
            push_all(&mut out, their_chunk);
        } else if their_chunk == base_chunk || our_chunk == their_chunk {
            push_all(&mut out, our_chunk);
        } else {
            conflicts += 1;
            push_conflict(&mut out, our_chunk, their_chunk, labels);
        }
        match anchor {
            Some(i) => {
                push_all(&mut out, &base_lines[i..=i]);
                (o, a, b) = (i + 1, a_end + 1, b_end + 1);
            }
            None => break,
        }
    }
    Merged {
        text: out,
        conflicts,
    }
}

/// Lines with their endings kept, so a missing final newline survives the merge.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// For each base line, the index of the line it stays as in `other`, if it stays.
fn matches(base: &[&str], other: &[&str]) -> Vec<Option<usize>> {
    let mut at = vec![None; base.len()];
    for op in capture_diff_slices(Algorithm::Myers, base, other) {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            for k in 0..len {
                at[old_index + k] = Some(new_index + k);
            }
        }
    }
    at
}

fn push_all(out: &mut String, chunk: &[&str]) {
    for line in chunk {
        out.push_str(line);
    }
}

/// Conflict markers end their lines as the conflicting lines do, so a CRLF file stays CRLF.
fn push_conflict(out: &mut String, ours: &[&str], theirs: &[&str], labels: &Labels) {
    let crlf = ours.iter().chain(theirs).any(|l| l.ends_with("\r\n"));
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut side = |marker: &str, chunk: &[&str]| {
        out.push_str(marker);
        out.push_str(eol);
        push_all(out, chunk);
        if !out.ends_with('\n') {
            out.push_str(eol);
        }
    };
    side(&format!("<<<<<<< {}", labels.ours), ours);
    side("=======", theirs);
    out.push_str(&format!(">>>>>>> {}{eol}", labels.theirs));
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELS: Labels = Labels {
        ours: "yours",
        theirs: "template",
    };

    fn m(base: &str, ours: &str, theirs: &str) -> Merged {
        merge(base, ours, theirs, &LABELS)
    }

    #[test]
    fn changes_in_different_places_both_survive() {
        let base = "a\nb\nc\nd\ne\n";
        let ours = "a\nB\nc\nd\ne\n";
        let theirs = "a\nb\nc\nd\nE\nf\n";
        assert_eq!(
            m(base, ours, theirs),
            Merged {
                text: "a\nB\nc\nd\nE\nf\n".into(),
                conflicts: 0
            }
        );
    }

    #[test]
    fn one_side_unchanged_takes_the_other() {
        let base = "x\ny\n";
        assert_eq!(m(base, base, "x\nz\n").text, "x\nz\n");
        assert_eq!(m(base, "x\nz\n", base).text, "x\nz\n");
        assert_eq!(m(base, base, base).text, base);
    }

    #[test]
    fn the_same_change_on_both_sides_is_no_conflict() {
        let r = m("a\nb\nc\n", "a\nX\nc\n", "a\nX\nc\n");
        assert_eq!(r.text, "a\nX\nc\n");
        assert_eq!(r.conflicts, 0);
    }

    #[test]
    fn different_changes_to_the_same_line_conflict_with_markers() {
        let r = m("a\nb\nc\n", "a\nmine\nc\n", "a\ntheirs\nc\n");
        assert_eq!(r.conflicts, 1);
        assert_eq!(
            r.text,
            "a\n<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> template\nc\n"
        );
    }

    #[test]
    fn deletions_and_insertions_merge() {
        let base = "1\n2\n3\n4\n5\n";
        let ours = "1\n3\n4\n5\n"; // deleted 2
        let theirs = "1\n2\n3\n4\n4.5\n5\n"; // inserted 4.5
        assert_eq!(m(base, ours, theirs).text, "1\n3\n4\n4.5\n5\n");
    }

    #[test]
    fn a_missing_final_newline_is_kept_and_markers_stay_on_their_own_lines() {
        assert_eq!(m("a\nb", "a\nb", "a\nc").text, "a\nc");
        let r = m("a\nb", "a\nmine", "a\ntheirs");
        assert_eq!(
            r.text,
            "a\n<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> template\n"
        );
    }

    #[test]
    fn conflict_markers_in_a_crlf_file_end_with_crlf() {
        let r = m(
            "a\r\nb\r\nc\r\n",
            "a\r\nmine\r\nc\r\n",
            "a\r\ntheirs\r\nc\r\n",
        );
        assert_eq!(
            r.text,
            "a\r\n<<<<<<< yours\r\nmine\r\n=======\r\ntheirs\r\n>>>>>>> template\r\nc\r\n"
        );
    }

    #[test]
    fn an_empty_base_with_two_different_files_conflicts_whole() {
        let r = m("", "mine\n", "theirs\n");
        assert_eq!(r.conflicts, 1);
        assert!(r.text.starts_with("<<<<<<< yours\nmine\n"));
    }
}
