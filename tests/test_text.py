"""One text-features module: the assessment and the eval scorers share words,
stopwords and the stemmer."""

from __future__ import annotations

import huddle_ai.evals.text as scorer_text
import huddle_ai.suggest.assessment as assessment
import huddle_ai.text as text


def test_one_stemmer_and_one_stopword_list() -> None:
    assert assessment.stem is scorer_text.stem is text.stem
    assert assessment.content_words is text.content_words
    assert text.STOPWORDS <= scorer_text.STOPWORDS
    assert not scorer_text.FILLERS & text.STOPWORDS  # each word listed once


def test_stems_and_content_words() -> None:
    assert [text.stem(w) for w in ("teachers", "replies", "tested", "class")] == [
        "teacher",
        "reply",
        "test",
        "class",
    ]
    assert text.content_words("The teachers tested their replies") == {"teacher", "test", "reply"}
    # a word and its inflections meet, also where the word ends in a silent "e"
    forms = ("schedule", "scheduled", "scheduling", "schedules")
    assert len({text.stem(w) for w in forms}) == 1
    assert text.stem("make") == text.stem("making") != text.stem("mark")
    # a scorer also ignores vague fillers and short tokens
    assert scorer_text.content_words("Really good things, a lot of retries") == {"good", "retry"}


def test_sentences_and_shared_runs() -> None:
    assert text.sentences("One. Two!\nThree") == ["One.", "Two!", "Three"]
    assert text.longest_shared_run("add an owner and a date", "give an owner and a date") == 5
