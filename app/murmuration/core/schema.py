"""The migrations of state.db, oldest first; migration N takes the schema from version N to N+1.

Never edit a released migration: add a new one, so every older database upgrades the same way.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the knowledge base — issues, the milestone, fragments with full-text search, links.
    """
    CREATE TABLE issues (
        number      INTEGER PRIMARY KEY AUTOINCREMENT,  -- ISSUE_<number>; AUTOINCREMENT never reuses one
        title       TEXT NOT NULL,
        content     TEXT NOT NULL DEFAULT '',
        status      TEXT NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'in-progress', 'completed', 'archived')),
        priority    TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high')),
        tags        TEXT NOT NULL DEFAULT '[]',          -- JSON list, mirrored in issue_tags for filtering
        assignee    TEXT,
        due_date    TEXT,
        related_ids TEXT NOT NULL DEFAULT '[]',
        extra       TEXT NOT NULL DEFAULT '{}',          -- front-matter keys we do not know, kept for export
        position    REAL NOT NULL DEFAULT 0,             -- order within its kanban column
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX issues_by_status ON issues (status, position);
    CREATE TABLE issue_tags (
        number INTEGER NOT NULL REFERENCES issues (number) ON DELETE CASCADE,
        tag    TEXT NOT NULL,
        PRIMARY KEY (number, tag)
    ) WITHOUT ROWID;
    CREATE INDEX issue_tags_by_tag ON issue_tags (tag);
    CREATE TABLE milestone (
        id             INTEGER PRIMARY KEY CHECK (id = 1),
        title          TEXT NOT NULL,
        description    TEXT NOT NULL DEFAULT '',
        target_date    TEXT,
        progress       INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
        related_issues TEXT NOT NULL DEFAULT '[]',
        extra          TEXT NOT NULL DEFAULT '{}',
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    );
    CREATE TABLE fragments (
        id          TEXT PRIMARY KEY,
        title       TEXT NOT NULL,
        body        TEXT NOT NULL,
        type        TEXT NOT NULL
                    CHECK (type IN ('question', 'answer', 'note', 'documentation', 'issue', 'solution', 'reference')),
        tags        TEXT NOT NULL DEFAULT '[]',
        metadata    TEXT NOT NULL DEFAULT '{}',
        related_ids TEXT NOT NULL DEFAULT '[]',
        priority    TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high')),
        status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived', 'draft')),
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX fragments_by_type ON fragments (type, updated_at);
    CREATE TABLE fragment_tags (
        id  TEXT NOT NULL REFERENCES fragments (id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (id, tag)
    ) WITHOUT ROWID;
    CREATE INDEX fragment_tags_by_tag ON fragment_tags (tag);
    CREATE VIRTUAL TABLE fragments_fts USING fts5 (
        title, body, content = 'fragments', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2',
        prefix = '2 3 4'  -- the last word of a search is a prefix: index prefixes so that stays fast
    );
    CREATE TRIGGER fragments_fts_insert AFTER INSERT ON fragments BEGIN
        INSERT INTO fragments_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
    END;
    CREATE TRIGGER fragments_fts_delete AFTER DELETE ON fragments BEGIN
        INSERT INTO fragments_fts (fragments_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
    END;
    CREATE TRIGGER fragments_fts_update AFTER UPDATE OF title, body ON fragments BEGIN
        INSERT INTO fragments_fts (fragments_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
        INSERT INTO fragments_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
    END;
    CREATE TABLE fragment_links (
        id         TEXT PRIMARY KEY,
        source_id  TEXT NOT NULL REFERENCES fragments (id) ON DELETE CASCADE,
        target_id  TEXT NOT NULL REFERENCES fragments (id) ON DELETE CASCADE,
        link_type  TEXT NOT NULL CHECK (link_type IN ('answers', 'references', 'related', 'supersedes')),
        metadata   TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        UNIQUE (source_id, target_id, link_type),
        CHECK (source_id <> target_id)
    );
    CREATE INDEX fragment_links_by_target ON fragment_links (target_id);
    """,
    # 2: managed processes (their history too) and the queue that feeds them.
    """
    CREATE TABLE processes (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order: FIFO within a priority
        id              TEXT NOT NULL UNIQUE,
        title           TEXT NOT NULL,
        name            TEXT NOT NULL,
        argv            TEXT NOT NULL,                      -- JSON list
        cwd             TEXT NOT NULL,
        env             TEXT NOT NULL DEFAULT '{}',
        priority        INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 10),
        state           TEXT NOT NULL CHECK (state IN ('queued', 'starting', 'running', 'stopping',
                                                      'stopped', 'failed', 'interrupted', 'cancelled')),
        attempts        INTEGER NOT NULL DEFAULT 0,         -- spawns so far
        next_attempt_at REAL,                               -- epoch seconds; a queued retry waits until then
        pid             INTEGER,
        pid_started     REAL,                               -- the OS start time of pid: a reused pid differs
        exit_code       INTEGER,
        signal          INTEGER,
        error           TEXT,
        stop_requested  INTEGER NOT NULL DEFAULT 0,
        queued_at       TEXT NOT NULL,
        started_at      TEXT,
        ended_at        TEXT
    );
    CREATE INDEX processes_by_state ON processes (state, priority DESC, seq);
    CREATE TABLE queue_config (
        id                 INTEGER PRIMARY KEY CHECK (id = 1),
        max_concurrent     INTEGER NOT NULL DEFAULT 5,
        max_queue_size     INTEGER NOT NULL DEFAULT 1000,
        max_retries        INTEGER NOT NULL DEFAULT 3,
        retry_delay_ms     INTEGER NOT NULL DEFAULT 1000,
        retry_factor       REAL NOT NULL DEFAULT 2.0,
        retry_max_delay_ms INTEGER NOT NULL DEFAULT 60000,
        retry_on_exit      INTEGER NOT NULL DEFAULT 0,
        paused             INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO queue_config (id) VALUES (1);
    """,
    # 3: processes the way agents run them: a shell string or argv (argv holds a JSON string or list), a
    # pseudo-terminal, a port lease, a restart policy; and the cap on each process's log on disk.
    """
    ALTER TABLE processes ADD COLUMN tty INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE processes ADD COLUMN want_port INTEGER;  -- NULL: none; 0: any free port; N: exactly N
    ALTER TABLE processes ADD COLUMN port INTEGER;       -- the port leased to the current run
    ALTER TABLE processes ADD COLUMN restart TEXT NOT NULL DEFAULT 'no'
        CHECK (restart IN ('no', 'on-failure', 'always'));
    ALTER TABLE processes ADD COLUMN max_restarts INTEGER NOT NULL DEFAULT 5;
    ALTER TABLE processes ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;  -- quick restarts in a row
    ALTER TABLE processes ADD COLUMN interrupted TEXT;   -- why and when an earlier run was cut short, if one was
    ALTER TABLE queue_config ADD COLUMN max_log_bytes INTEGER NOT NULL DEFAULT 104857600;
    """,
    # 4: several agents on one instance — who made each write, when an issue's assignee took it, and which
    # issues wait on which (an issue is ready once every issue it waits on is completed or archived).
    """
    ALTER TABLE issues ADD COLUMN created_by TEXT;
    ALTER TABLE issues ADD COLUMN updated_by TEXT;
    ALTER TABLE issues ADD COLUMN assigned_at TEXT;
    ALTER TABLE fragments ADD COLUMN author TEXT;
    ALTER TABLE fragments ADD COLUMN updated_by TEXT;
    ALTER TABLE milestone ADD COLUMN updated_by TEXT;
    ALTER TABLE processes ADD COLUMN started_by TEXT;
    CREATE TABLE issue_blockers (
        number  INTEGER NOT NULL REFERENCES issues (number) ON DELETE CASCADE,  -- this issue waits on
        blocker INTEGER NOT NULL REFERENCES issues (number) ON DELETE CASCADE,  -- this one
        PRIMARY KEY (number, blocker),
        CHECK (number <> blocker)
    ) WITHOUT ROWID;
    CREATE INDEX issue_blockers_by_blocker ON issue_blockers (blocker);
    """,
)
