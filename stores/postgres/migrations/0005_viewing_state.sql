-- The viewing worker's session state and its cross-partition read model (processors/viewing).
-- FerretDB 1.x scans a collection for every filter but `_id` equality and runs each update
-- as its own transaction (~40 ms here): what must be found by user or by title lives here,
-- behind indexes, and MongoDB keeps the session documents (written insert-only or in a
-- small collection).

-- The worker's session state as an append-only log: one row per mark of each open session
-- (compact JSON, written once, in the batch's transaction), read only for sessions not in
-- the worker's memory (after a start or a rebalance). A session's rows are deleted when it
-- is closed (ended, past the grace period), so this table holds the sessions in flight and
-- the cost per event stays the same however long the session or the history. No unique
-- key: a mark is only written by the batch that first saw it, and readers de-duplicate by
-- event id (a revoked worker finishing a batch may write one twice).
create table viewing_session_marks (
    session_id text not null,
    mark       text not null
);
create index viewing_session_marks_session_idx on viewing_session_marks (session_id);

-- Closed sessions: events that still arrive for them are replays (or later than the grace
-- period) and are ignored.
create table viewing_sessions_closed (
    session_id text primary key
);

-- One row per session (open or ended), the summary the read API returns: a user's
-- sessions, newest first, and the recent history that seeds recommendations. (FerretDB
-- 1.24 scans even for `_id` equality: a lookup costs its document's position in the
-- collection, so the API reads no growing collection there.)
create table viewing_session_index (
    session_id      text primary key,
    user_id         text not null,
    title_id        text not null,
    genre           text not null,
    state           text not null,
    started_at      timestamptz not null,
    ended_at        timestamptz,
    last_position_s double precision not null,
    watched_seconds double precision not null,
    pauses          int not null,
    completed       boolean not null,
    events          int not null,
    context         jsonb not null
);
create index viewing_session_index_user_started_idx
    on viewing_session_index (user_id, started_at desc, session_id);
create index viewing_session_index_user_ended_idx
    on viewing_session_index (user_id, ended_at desc, session_id desc)
    where ended_at is not null;

-- "Because you watched": one row per (title, other title, user) pair of a user's recent
-- history, counted once per user into co_watch_counts.
create table co_watch_edges (
    title_id       text not null,
    other_title_id text not null,
    user_id        text not null,
    primary key (title_id, other_title_id, user_id)
);
create table co_watch_counts (
    title_id       text not null,
    other_title_id text not null,
    viewers        int not null constraint co_watch_counts_viewers_positive check (viewers > 0),
    primary key (title_id, other_title_id)
);
create index co_watch_counts_title_viewers_idx
    on co_watch_counts (title_id, viewers desc, other_title_id);
