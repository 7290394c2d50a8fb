"""benchmarks.quality_precision: labels are read strictly and removals are scored per reason."""
import pytest

from benchmarks.quality_precision import LABELS, ROOT, failures, load_labels, score

HEADER = "repo\tpath\treason\tverdict\twhy\n"


def decision(repo, path, reason, size):
    return {"repo": repo, "path": path, "reason": reason, "size": size, "detail": "d"}


def test_score_per_reason_and_unlabelled(tmp_path):
    labels_file = tmp_path / "l.tsv"
    labels_file.write_text("# reviewed by hand\n" + HEADER
                           + "git/a/x\tgen.c\tlong_function\tdrop\tunrolled table\n"
                           + "git/a/x\tparser.c\tlong_function\tkeep\treal parser\n"
                           + "git/a/x\tutil.c\tgenerated\tkeep\tprose in a comment\n")
    labels = load_labels(labels_file)
    decisions = [decision("git/a/x@0123456789ab", "gen.c", "long_function", 300),
                 decision("git/a/x@0123456789ab", "parser.c", "long_function", 100),
                 decision("git/a/x@0123456789ab", "util.c", "long_function", 50)]  # reviewed under another reason
    report = score(decisions, labels, 10_000, ("generated", "long_function"))
    lf = report["reasons"]["long_function"]
    assert (lf["removed"], lf["drop"], lf["keep"], lf["unlabelled"]) == (3, 1, 1, 1)
    assert lf["precision"] == 0.5 and lf["keep_bytes"] == 100
    assert report["reasons"]["generated"]["precision"] is None
    assert report["keep_share"] == 0.01
    assert [r["path"] for r in report["unlabelled"]] == ["util.c"]
    missed = failures(report, 0.9, 0.01)
    assert any("long_function: precision 0.500" in m for m in missed)
    assert any("0.0100 of the corpus" in m for m in missed) and any("1 removals without a label" in m for m in missed)


@pytest.mark.parametrize("rows, message", [
    ("a\tb\tc\tmaybe\twhy\n", "verdict must be keep or drop"),
    ("a\tb\tc\tkeep\n", "expected 5 non-empty"),
    ("a\tb\tc\tkeep\tw\na\tb\td\tdrop\tw\n", "labelled both keep and drop"),
    ("a\tb\tc\tkeep\tw\na\tb\tc\tkeep\tw\n", "labelled twice"),
])
def test_bad_labels_are_rejected(tmp_path, rows, message):
    path = tmp_path / "l.tsv"
    path.write_text(HEADER + rows)
    with pytest.raises(ValueError, match=message):
        load_labels(path)


def test_the_github_labels_file_is_well_formed():
    labels = load_labels(ROOT / LABELS)
    assert len(labels) >= 43 and {label.verdict for label in labels.values()} == {"keep", "drop"}
