"""Which queues `python -m backend.worker [QUEUE ...]` listens on."""
import pytest

from backend.common.queues import ALL_QUEUES
from backend.worker import queue_names


def test_all_queues_when_none_is_named():
    assert queue_names([]) == list(ALL_QUEUES)


def test_named_queues_in_the_order_given_without_repeats():
    assert queue_names(["webhooks", "notifications", "webhooks"]) == ["webhooks", "notifications"]


def test_an_unknown_queue_is_an_error():
    with pytest.raises(ValueError, match="emails"):
        queue_names(["emails"])
