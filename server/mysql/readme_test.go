package mysql

import (
	"database/sql"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeSchema checks that the table the README shows is the one
// Migrate creates.
func TestReadmeSchema(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```sql\n(CREATE TABLE.*?)\n```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README.md shows no CREATE TABLE")
	}
	db, err := sql.Open("mysql", "u:p@tcp(127.0.0.1:1)/db?parseTime=true&loc=UTC&clientFoundRows=true&interpolateParams=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := newStore(db, Config{})
	if err != nil {
		t.Fatal(err)
	}
	normal := func(q string) string {
		q = regexp.MustCompile(`--[^\n]*`).ReplaceAllString(q, "")
		return strings.Join(strings.Fields(q), " ")
	}
	if got, want := normal(string(block[1])), normal(s.qCreateTable); got != want {
		t.Errorf("README.md's schema:\n%s\nMigrate's:\n%s", got, want)
	}
}
