import random

import numpy as np

from tasks.quality.scorer import HashedNgramLogReg, QualityScorer, load_scorer


def good_code(rng: random.Random) -> str:
    name = rng.choice(["parse_header", "load_config", "merge_rows", "split_words", "count_tokens"])
    arg = rng.choice(["path", "rows", "text", "items"])
    return (f"def {name}({arg}):\n"
            f'    """Return the {rng.choice(["parsed", "merged", "cleaned"])} {arg}."""\n'
            f"    result = []\n"
            f"    for item in {arg}:\n"
            f"        if item:\n"
            f"            result.append(item.strip())\n"
            f"    return result\n")


def bad_code(rng: random.Random) -> str:
    junk = "".join(rng.choice(["a=1;", "b=a;", "x1=0;", "q=q;", "zz=2;"]) for _ in range(rng.randrange(20, 40)))
    return junk + "\n" + "\n".join(f"v{rng.randrange(99)}={rng.randrange(999)}" for _ in range(5)) + "\n"


def dataset(seed: int, n: int) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        texts.append(good_code(rng) if label else bad_code(rng))
        labels.append(label)
    return texts, labels


def test_scorer_separates_held_out_examples(tmp_path):
    train_x, train_y = dataset(1, 40)
    test_x, test_y = dataset(2, 20)
    model = HashedNgramLogReg(dim_bits=14, epochs=200).fit(train_x, train_y)
    assert isinstance(model, QualityScorer)
    scores = np.array([model.score(t) for t in test_x])
    labels = np.array(test_y)
    assert scores[labels == 1].min() > 0.5 > scores[labels == 0].max()

    path = tmp_path / "scorer.qarr"
    model.save(path)
    loaded = load_scorer(path)
    assert isinstance(loaded, HashedNgramLogReg)
    np.testing.assert_allclose([loaded.score(t) for t in test_x], scores, atol=1e-5)


def test_training_is_deterministic(tmp_path):
    x, y = dataset(3, 20)
    HashedNgramLogReg(dim_bits=12, epochs=30).fit(x, y).save(tmp_path / "a")
    HashedNgramLogReg(dim_bits=12, epochs=30).fit(x, y).save(tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_untrained_model_is_undecided():
    assert HashedNgramLogReg(dim_bits=10).score("anything") == 0.5
