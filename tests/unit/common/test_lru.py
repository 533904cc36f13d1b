from batchlane.common.lru import Lru


def test_the_least_recently_used_entry_goes_first():
    cache = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)


def test_entries_expire_after_max_age():
    now = [0.0]
    cache = Lru(10, max_age=300, clock=lambda: now[0])
    cache.put("job", "foreign")
    now[0] = 299.9
    assert cache.get("job") == "foreign"
    now[0] = 300.0
    assert cache.get("job") is None
    assert len(cache) == 0


def test_put_again_refreshes_value_and_age():
    now = [0.0]
    cache = Lru(10, max_age=10, clock=lambda: now[0])
    cache.put("k", 1)
    now[0] = 8
    cache.put("k", 2)
    now[0] = 15
    assert cache.get("k") == 2
