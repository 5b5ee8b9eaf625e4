-- Viewing starts per title and minute, for "trending now" (processors/viewing).

create table title_views_minute (
    title_id text not null,
    minute   timestamptz not null,
    starts   int not null constraint title_views_minute_starts_nonnegative check (starts >= 0),
    primary key (title_id, minute)
);

-- Trending: the minutes of the last N, then the most-started titles.
create index title_views_minute_minute_starts_idx on title_views_minute (minute, starts desc);

-- One row per counted ViewingStarted event: a replay does not count twice.
create table viewing_starts (
    event_id uuid primary key,
    title_id text not null,
    minute   timestamptz not null
);
