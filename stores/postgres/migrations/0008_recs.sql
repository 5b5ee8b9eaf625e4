-- The trained recommender (processors/recs): each model version with its training time
-- and offline metrics, and the served rows of the current one.

create table recs_models (
    version    bigint generated always as identity primary key,
    trained_at timestamptz not null,
    training_s double precision not null
        constraint recs_models_training_s_nonnegative check (training_s >= 0),
    views      int not null,
    users      int not null,
    titles     int not null,
    params     jsonb not null,
    metrics    jsonb not null
);

-- The current version's top titles per user and time-of-day bucket (0 night .. 3
-- evening), replaced whole in the training's transaction: the read API reads one index
-- range per request (user, bucket) and never sees half a version.
create table recs_user_items (
    user_id  text not null,
    bucket   smallint not null constraint recs_user_items_bucket_range check (bucket between 0 and 3),
    rank     smallint not null,
    title_id text not null,
    score    real not null,
    version  bigint not null references recs_models (version),
    primary key (user_id, bucket, rank)
);
