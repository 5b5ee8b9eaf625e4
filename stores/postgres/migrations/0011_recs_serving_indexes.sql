-- The read API's recommendation statement (dashboard/queries.py RECOMMENDATION_INPUTS)
-- reads index pages only. Profiled at 1,000,000 views: the hour of trending before `at`
-- is ~1,200 rows spread over ~800 heap pages (4.9 ms of the statement's 6.1 ms); with
-- title_id and starts in the index it is an index-only scan of ~10 pages (0.4 ms).
-- Nothing reads title_views_minute in (minute, starts) order, so this index replaces
-- that one rather than adding a second for the viewing worker's upserts to maintain.
drop index title_views_minute_minute_starts_idx;
create index title_views_minute_minute_idx on title_views_minute (minute) include (title_id, starts);

-- A user's history and finished titles (and the viewing worker's co-watch statement)
-- read title_id and completed beside the key: ~100 heap pages per user become 1-2
-- index pages.
drop index viewing_session_index_user_ended_idx;
create index viewing_session_index_user_ended_idx
    on viewing_session_index (user_id, ended_at desc, session_id desc) include (title_id, completed)
    where ended_at is not null;
