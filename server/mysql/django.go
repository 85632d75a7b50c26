package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session/django"
	"github.com/sessionkit/session/internal/sqlconf"
	"github.com/sessionkit/session/server"
)

// DjangoTable is the table of Django's db session backend.
const DjangoTable = "django_session"

// DjangoStore is a django.Store on the table of Django's db session
// backend, django_session, as Django's own migration (sessions.0001)
// creates it:
//
//	CREATE TABLE `django_session` (
//	  `session_key`  varchar(40) NOT NULL PRIMARY KEY,
//	  `session_data` longtext    NOT NULL,
//	  `expire_date`  datetime(6) NOT NULL
//	);
//	CREATE INDEX `django_session_expire_date_a5c62663` ON `django_session` (`expire_date`);
//
// Keys are raw session keys, as Django stores them: the session cookie's
// value. session_data is Django's session-encoded value, which this store
// does not interpret; expire_date is naive UTC, as Django writes it with
// USE_TZ=True (whatever TIME_ZONE is). The statements:
//
//	Load           SELECT IF(LENGTH(session_data) <= MaxLength, session_data, NULL), expire_date
//	               FROM t WHERE session_key = ? AND BINARY session_key = ? AND expire_date > ?now
//	Create         INSERT INTO t (session_key, session_data, expire_date) VALUES (?, ?, ?)
//	Update         UPDATE t SET session_data = ?, expire_date = ?
//	               WHERE session_key = ? AND BINARY session_key = ? AND expire_date > ?now
//	Delete         DELETE FROM t WHERE session_key = ? AND BINARY session_key = ?
//	DeleteExpired  DELETE FROM t WHERE expire_date <= ?now LIMIT batch, repeated while a batch is full
//
// Django's columns take the database's collation, case-insensitive
// (utf8mb4_unicode_ci, say): the BINARY comparison, after the one that
// uses the primary key, makes a key find its own row only, and keys are
// lowercase (django.ValidateKey) as Django makes them. Load and Update
// see a row whose expire_date has passed as missing (Django's load does;
// its save would update it), so that a save never brings an expired
// session back. It is safe for concurrent use.
type DjangoStore struct {
	db     *sql.DB
	w      *writes
	owned  bool
	table  string
	batch  int
	maxLen int

	qLoad, qCreate, qUpdate, qDelete, qDeleteExpired, qCheck string
}

func newDjangoStore(db *sql.DB, cfg Config) (*DjangoStore, error) {
	if cfg.Table == "" {
		cfg.Table = DjangoTable
	}
	base, err := newStore(db, cfg) // the same checks of Config
	if err != nil {
		return nil, err
	}
	t := "`" + base.table + "`"
	data := fmt.Sprintf("IF(LENGTH(session_data) <= %d, session_data, NULL)", base.maxLen)
	const exact = "session_key = ? AND BINARY session_key = ?"
	return &DjangoStore{
		db:             db,
		w:              base.w,
		table:          base.table,
		batch:          base.batch,
		maxLen:         base.maxLen,
		qLoad:          "SELECT " + data + ", expire_date FROM " + t + " WHERE " + exact + " AND expire_date > ?",
		qCreate:        "INSERT INTO " + t + " (session_key, session_data, expire_date) VALUES (?, ?, ?)",
		qUpdate:        "UPDATE " + t + " SET session_data = ?, expire_date = ? WHERE " + exact + " AND expire_date > ?",
		qDelete:        "DELETE FROM " + t + " WHERE " + exact,
		qDeleteExpired: fmt.Sprintf("DELETE FROM %s WHERE expire_date <= ? LIMIT %d", t, base.batch),
		qCheck:         "SELECT session_key, session_data, expire_date FROM " + t + " LIMIT 0",
	}, nil
}

// OpenDjango opens the django_session table (Config.Table, DjangoTable
// when empty) of the database dsn names, as Open does: it forces the same
// driver options, sets the same pool up and checks that the server
// answers (an error wraps server.ErrUnavailable). It also checks that
// the table is there with Django's columns: an error says to run
// Django's migrations otherwise. Close closes the pool.
func OpenDjango(dsn string, cfg Config) (*DjangoStore, error) {
	db, mc, err := openPool(dsn)
	if err != nil {
		return nil, err
	}
	s, err := newDjangoStore(db, cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.owned = true
	if err := checkAnswers(db, mc); err != nil {
		_ = db.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), OpenTimeout)
	defer cancel()
	if err := s.checkTable(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.w.ownKillPool(mc)
	return s, nil
}

// NewDjango returns a DjangoStore on db, which the caller keeps owning, as
// New does for Store: the DSN must set parseTime=true, loc=UTC and
// clientFoundRows=true, and unless cfg.SkipCheck is set NewDjango checks
// them and that the table is there. db may be the pool of a Store
// (Store.DB) when Django's tables and this package's are in one database.
func NewDjango(ctx context.Context, db *sql.DB, cfg Config) (*DjangoStore, error) {
	s, err := newDjangoStore(db, cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.SkipCheck {
		if err := checkConn(ctx, db); err != nil {
			return nil, err
		}
		if err := s.checkTable(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// checkTable checks that the table has Django's columns.
func (s *DjangoStore) checkTable(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, s.qCheck)
	if err != nil {
		if isErrno(err, errNoSuchTable, errBadField) {
			return fmt.Errorf("%w: table %s is not Django's django_session (run Django's migrations: manage.py migrate sessions): %w", ErrMisconfigured, s.table, err)
		}
		return fmt.Errorf("session store mysql: check table %s: %w", s.table, err)
	}
	return rows.Close()
}

// DB returns the *sql.DB the store uses.
func (s *DjangoStore) DB() *sql.DB { return s.db }

// Table returns the table name.
func (s *DjangoStore) Table() string { return s.table }

// MaxLength returns the longest session_data the store writes or reads.
func (s *DjangoStore) MaxLength() int { return s.maxLen }

// Ping checks that the server answers.
func (s *DjangoStore) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("session store mysql: ping: %w", err)
	}
	return nil
}

// Close closes the *sql.DB if OpenDjango created it; for a DjangoStore
// made by NewDjango it does nothing.
func (s *DjangoStore) Close() error {
	if !s.owned {
		return nil
	}
	return errors.Join(s.db.Close(), s.w.close())
}

func (s *DjangoStore) check(op string, data []byte) (string, error) {
	if len(data) > s.maxLen {
		return "", fmt.Errorf("session store mysql: django: %s: %w: %d bytes, over MaxLength %d", op, server.ErrTooLarge, len(data), s.maxLen)
	}
	return string(data), nil // longtext: sent as text, not as binary
}

// Load returns the session_data and expire_date (UTC) of key's row, or
// server.ErrNotFound if there is none or it has expired. A session_data
// over MaxLength is an error wrapping server.ErrTooLarge; the server does
// not send it.
func (s *DjangoStore) Load(ctx context.Context, key string) ([]byte, time.Time, error) {
	if err := django.ValidateKey(key); err != nil {
		return nil, time.Time{}, fmt.Errorf("session store mysql: django: load: %w", err)
	}
	var (
		data    sql.Null[[]byte]
		expires time.Time
	)
	err := s.db.QueryRowContext(ctx, s.qLoad, key, key, now()).Scan(&data, &expires)
	switch {
	case err == nil:
		if !data.Valid {
			return nil, time.Time{}, fmt.Errorf("session store mysql: django: load: %w: the stored session_data is longer than MaxLength %d", server.ErrTooLarge, s.maxLen)
		}
		return data.V, expires, nil
	case errors.Is(err, sql.ErrNoRows):
		return nil, time.Time{}, server.ErrNotFound
	default:
		return nil, time.Time{}, fmt.Errorf("session store mysql: django: load: %w", err)
	}
}

// Create inserts a row for key. It returns server.ErrExists if the key is
// present, expired or not.
func (s *DjangoStore) Create(ctx context.Context, key string, data []byte, expires time.Time) error {
	if err := django.ValidateKey(key); err != nil {
		return fmt.Errorf("session store mysql: django: create: %w", err)
	}
	text, err := s.check("create", data)
	if err != nil {
		return err
	}
	_, err = s.w.exec(ctx, s.qCreate, key, text, dbTime(expires))
	return inserted(err, "django: create")
}

// Update replaces the session_data and expire_date of key's row. It
// returns server.ErrNotFound if there is no row or it has expired.
func (s *DjangoStore) Update(ctx context.Context, key string, data []byte, expires time.Time) error {
	if err := django.ValidateKey(key); err != nil {
		return fmt.Errorf("session store mysql: django: update: %w", err)
	}
	text, err := s.check("update", data)
	if err != nil {
		return err
	}
	res, err := s.w.exec(ctx, s.qUpdate, text, dbTime(expires), key, key, now())
	return matched(res, err, "django: update")
}

// Delete removes key's row. A missing row is not an error.
func (s *DjangoStore) Delete(ctx context.Context, key string) error {
	if err := django.ValidateKey(key); err != nil {
		return fmt.Errorf("session store mysql: django: delete: %w", err)
	}
	if _, err := s.w.exec(ctx, s.qDelete, key, key); err != nil {
		return fmt.Errorf("session store mysql: django: delete: %w", err)
	}
	return nil
}

// DeleteExpired removes the rows that have expired at the time of the
// call, Config.DeleteBatch per statement, and returns how many: Django's
// clearsessions. It checks ctx between batches.
func (s *DjangoStore) DeleteExpired(ctx context.Context) (int64, error) {
	cutoff := now()
	total, err := sqlconf.DeleteBatches(ctx, s.batch, func(ctx context.Context) (int64, error) {
		return rowsAffected(s.w.exec(ctx, s.qDeleteExpired, cutoff))
	})
	if err != nil {
		return total, fmt.Errorf("session store mysql: django: delete expired: %w", err)
	}
	return total, nil
}

var _ django.Store = (*DjangoStore)(nil)
