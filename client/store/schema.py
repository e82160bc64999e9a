"""The local store's schema: an ordered list of migrations, applied once each (own version table).

Never edit a migration that has shipped: add the next one. Each runs in one transaction with the
version bump, so a phone that dies mid-upgrade starts again from the last finished step.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "working set, outbox, attachments, conflicts",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);

        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            customer_id TEXT,
            address_id TEXT,
            title TEXT NOT NULL DEFAULT '',
            description TEXT,
            service_type TEXT,
            priority TEXT,
            status TEXT NOT NULL,
            server_status TEXT NOT NULL,
            scheduled_start TEXT,          -- UTC, 'YYYY-MM-DDTHH:MM:SSZ': sorts as text
            scheduled_end TEXT,
            technician_ids TEXT NOT NULL DEFAULT '[]',
            completion_notes TEXT,
            actual_minutes INTEGER,
            materials TEXT,
            version INTEGER NOT NULL DEFAULT 0,
            change_seq INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL DEFAULT '{}'  -- the server's record as received
        );
        CREATE INDEX jobs_by_start ON jobs (scheduled_start, id);

        CREATE TABLE job_technicians (
            job_id TEXT NOT NULL,
            technician_id TEXT NOT NULL,
            scheduled_start TEXT,            -- the job's, copied: one technician's day is one index range
            PRIMARY KEY (job_id, technician_id)
        ) WITHOUT ROWID;
        CREATE INDEX job_technicians_by_day ON job_technicians (technician_id, scheduled_start, job_id);

        CREATE TABLE job_lines (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            position INTEGER NOT NULL DEFAULT 0,
            description TEXT,
            quantity TEXT,
            unit_price TEXT,
            total_amount TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX job_lines_by_job ON job_lines (job_id, position);

        CREATE TABLE job_notes (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            body TEXT NOT NULL,
            author_id TEXT,
            author_name TEXT,
            device_id TEXT,
            created_at TEXT,
            pending INTEGER NOT NULL DEFAULT 0,  -- written here, not yet confirmed by the server
            version INTEGER NOT NULL DEFAULT 0,
            change_seq INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX job_notes_by_job ON job_notes (job_id, created_at);

        CREATE TABLE customers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            phone TEXT,
            version INTEGER NOT NULL DEFAULT 0,
            change_seq INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL DEFAULT '{}'
        );

        CREATE TABLE customer_addresses (
            id TEXT PRIMARY KEY,
            customer_id TEXT,
            street TEXT,
            city TEXT,
            province TEXT,
            reference TEXT,
            lat REAL,
            lng REAL,
            is_default INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL DEFAULT 0,
            change_seq INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX customer_addresses_by_customer ON customer_addresses (customer_id);

        CREATE TABLE price_book_items (
            id TEXT PRIMARY KEY,
            code TEXT,
            name TEXT NOT NULL DEFAULT '',
            kind TEXT,
            unit TEXT,
            base_price TEXT,
            is_active INTEGER NOT NULL DEFAULT 1,
            search TEXT NOT NULL DEFAULT '',  -- code + name, lower case, accents removed
            version INTEGER NOT NULL DEFAULT 0,
            change_seq INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX price_book_items_by_name ON price_book_items (name);

        CREATE TABLE photos (
            id TEXT PRIMARY KEY,             -- local id (the server's id once known: server_id)
            job_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,      -- SHA-256 of the stored (compressed) bytes
            content_type TEXT NOT NULL,
            size_bytes INTEGER NOT NULL DEFAULT 0,
            path TEXT,                       -- the local file (None for photos only on the server)
            server_id TEXT,
            upload_state TEXT NOT NULL,      -- pending | uploaded | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            UNIQUE (job_id, content_hash)
        );
        CREATE INDEX photos_by_state ON photos (upload_state, next_attempt_at);

        CREATE TABLE signatures (
            job_id TEXT PRIMARY KEY,
            signer_name TEXT,
            strokes TEXT,                    -- JSON [[[x, y], ...], ...]
            png_path TEXT,
            upload_state TEXT NOT NULL,      -- pending | uploaded | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        );

        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            op_id TEXT NOT NULL UNIQUE,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            op TEXT NOT NULL,
            payload TEXT NOT NULL,
            base_version INTEGER,
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',  -- pending | done | rejected
            attempts INTEGER NOT NULL DEFAULT 0,
            result_status TEXT,
            result_code TEXT,
            result_message TEXT,
            finished_at TEXT
        );
        CREATE INDEX outbox_pending ON outbox (state, seq);
        CREATE INDEX outbox_by_entity ON outbox (entity_id, state);

        CREATE TABLE conflicts (
            id TEXT PRIMARY KEY,
            op_id TEXT,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            op TEXT,
            entity_title TEXT,               -- the job's title then (the job may be gone later)
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            device_data TEXT NOT NULL DEFAULT '{}',
            server_data TEXT,
            created_at TEXT NOT NULL,
            acknowledged_at TEXT
        );
        CREATE INDEX conflicts_open ON conflicts (acknowledged_at, created_at);
        """,
    ),
    (
        2,
        "job lines read from the job's record",
        # only a job's detail shows its lines: they are read from ``jobs.data``, not written a second time
        # for every job of a first sync
        """
        DROP TABLE job_lines;
        """,
    ),
]
