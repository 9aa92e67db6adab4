"""A worker process freezes its imported heap and collects young objects less often."""

import gc

from config.celery_app import _settle_the_heap


def test_a_worker_process_freezes_what_it_imported():
    threshold = gc.get_threshold()
    try:
        _settle_the_heap()
        assert gc.get_freeze_count() > 100_000  # Django, numpy, scipy, cvxpy and the engine
        assert gc.get_threshold() == (20_000, 20, 20)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
