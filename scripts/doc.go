// Package scripts holds the tests of the shell scripts beside it (tests
// only): `make cluster` (cluster.sh) and the backups (backup.sh,
// restore.sh), run for real against redis-server, mariadbd and nginx.
package scripts
