-- The nightly run's state: what happened to each client, step by step (never what it wants: that
-- is the clients file). Applied once, in order, by bots.state.store.migrate().

CREATE TABLE step_state (
    nit          TEXT NOT NULL,
    step         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pendiente',
    attempts     INTEGER NOT NULL DEFAULT 0,   -- application failures in a row (reset on success)
    total_runs   INTEGER NOT NULL DEFAULT 0,   -- every time the step's flow ran for this client
    last_outcome TEXT,                         -- bots.cli.Outcome as JSON (redacted)
    evidence     TEXT NOT NULL DEFAULT '[]',   -- JSON list of paths
    not_before   TEXT,                         -- ISO datetime (UTC): do not try before
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (nit, step)
);

CREATE TABLE approvals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    nit          TEXT NOT NULL,
    fecha_inicio TEXT NOT NULL,                -- the approved production start date (AAAA-MM-DD)
    aprobado_por TEXT NOT NULL,                -- who approved it and how it is on record
    aprobado_en  TEXT NOT NULL,                -- when it was recorded (ISO datetime)
    evidencia    TEXT,                         -- path of the approval's evidence, if any
    registrado_por TEXT                        -- the operator's OS user who recorded it
);
CREATE INDEX approvals_nit ON approvals (nit, id);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    pid         INTEGER NOT NULL,
    summary     TEXT
);

-- Per portal host: the earliest time (epoch seconds) of the next request slot (shared rate limit).
CREATE TABLE rate_slots (
    host    TEXT PRIMARY KEY,
    next_at REAL NOT NULL
);

-- Per portal: consecutive portal errors and, when open, until when the portal is paused.
CREATE TABLE breakers (
    portal      TEXT PRIMARY KEY,
    consecutive INTEGER NOT NULL DEFAULT 0,
    open_until  TEXT,
    last_text   TEXT
);
