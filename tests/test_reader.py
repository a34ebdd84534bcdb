"""The span reader of the short answer (qa/answer/reader.py): the shipped delta on the installed base model,
real quotes of the sample articles (examples/articles/), verbatim offsets, the fallback, two threads."""
import logging
import threading

import pytest

from qa.answer import reader as reader_module
from qa.answer import short_answer
from qa.answer.reader import DELTA_PATH, join_quotes

AMR = ("Before that, Blinken announced at a press briefing that Deputy Assistant Secretary for Israel-Palestinian "
       "Affairs Hady Amr will travel to Israel as soon as possible.")
WEDNESDAY_NETANYAHU = "Earlier on Wednesday, Blinken spoke with Prime Minister Benjamin Netanyahu."
WEDNESDAY_ABBAS = ("US Secretary of State Antony Blinken spoke on Wednesday night with Palestinian Authority chairman "
                   "Mahmoud Abbas and condemned the rocket fire from Gaza towards Israel.")
TUESDAY_SULLIVAN = ("Earlier on Tuesday, US National Security Advisor Jake Sullivan spoke with Israeli National "
                    "Security Advisor Meir Ben Shabbat.")

CASES = [
    ("Who will travel to Israel as soon as possible?", [AMR, WEDNESDAY_ABBAS], "Hady Amr"),
    ("When did Blinken speak with Netanyahu?", [WEDNESDAY_NETANYAHU, WEDNESDAY_ABBAS], "Wednesday"),
    ("Who did Jake Sullivan speak with?", [TUESDAY_SULLIVAN, WEDNESDAY_NETANYAHU], "Meir Ben Shabbat"),
]


@pytest.fixture(scope="module")
def reader():
    assert DELTA_PATH.exists(), "qa/data/reader.safetensors is shipped"
    found = reader_module.load()
    assert found is not None
    return found


def test_the_delta_is_small_and_loads_once(reader):
    assert DELTA_PATH.stat().st_size <= 24 * 1024 * 1024  # the fine-tuned top layers and the head, fp16
    assert reader_module.load() is reader


@pytest.mark.parametrize("question,quotes,expected", CASES)
def test_the_reader_finds_the_span_verbatim(reader, question, quotes, expected):
    reading, starts = reader.read(question, quotes)
    context, _ = join_quotes(quotes)
    assert reading.context == context
    start, end, logp = reading.best()
    assert 0 <= start < end <= len(context) and logp <= 0.0
    # every word piece's offsets are characters of the context
    assert all(0 <= a <= b <= len(context) for a, b in reading.offsets)
    # The candidate that is the answer scores higher with the reader than a wrong one of the same quote.
    k = quotes[0].find(expected)
    right = reading.span(starts[0] + k, starts[0] + k + len(expected))
    wrong = reading.span(starts[0], starts[0] + quotes[0].find(" "))  # the quote's first word
    assert right is not None and wrong is not None and right[0] > wrong[0]


@pytest.mark.parametrize("question,quotes,expected", CASES)
def test_the_short_answer_with_the_reader(reader, question, quotes, expected):
    found = short_answer.best(question, quotes, scores=[0.9, 0.7], coverages=[1.0, 0.6], confidence=0.95)
    assert found is not None
    candidate, probability = found
    assert candidate.text == expected
    assert candidate.text == quotes[candidate.sentence][candidate.start : candidate.end]  # verbatim
    assert 0.0 <= probability <= 1.0


def test_without_the_delta_file_the_rules_answer(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="qa.answer.reader"):
        assert reader_module.load(tmp_path / "missing.safetensors") is None
    assert "unavailable" in caplog.text
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    assert reader_module.load(broken) is None


def test_the_delta_says_which_layers_it_fine_tunes(reader, tmp_path, caplog):
    from safetensors.torch import load_file, save_file

    state = load_file(str(DELTA_PATH))
    layers = sorted({int(n.split(".")[1]) for n in state if n.startswith("layer.")})
    n_layers = len(reader.model.encoder.encoder.layer)
    assert layers == list(range(n_layers - len(layers), n_layers))  # the top ones, whatever their number
    assert reader.model.n_frozen == layers[0]
    # A delta whose layers are not the top ones (here: the top one missing) is refused, not half-loaded.
    gapped = tmp_path / "gapped.safetensors"
    save_file({n: v for n, v in state.items() if not n.startswith(f"layer.{n_layers - 1}.")}, str(gapped))
    with caplog.at_level(logging.WARNING, logger="qa.answer.reader"):
        assert reader_module.load(gapped) is None
    assert "top encoder layers" in caplog.text


def test_fallback_to_the_rules_only_model(monkeypatch):
    monkeypatch.setattr(short_answer, "load_reader_model", lambda: (None, None))
    question, quotes, expected = CASES[0]
    rules = short_answer.load_model()
    assert not rules.reader
    found = short_answer.best(question, quotes, scores=[0.9, 0.7], coverages=[1.0, 0.6], confidence=0.95)
    assert found == short_answer.best(question, quotes, scores=[0.9, 0.7], coverages=[1.0, 0.6], confidence=0.95,
                                      model=rules)


def test_two_threads_at_once(reader):
    expected = {q: short_answer.best(q, quotes)[0].text for q, quotes, _ in CASES}
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                for q, quotes, _ in CASES:
                    results.append((q, short_answer.best(q, quotes)[0].text))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 2 * 5 * len(CASES)
    assert all(text == expected[q] for q, text in results)
