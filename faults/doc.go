// Package faults holds the fault suite (tests only): three globalchat
// instances on a real redis-server and mariadbd behind nginx, steady
// traffic from the official socket.io-client (jstest/faults.mjs), and
// faults injected meanwhile: Redis killed, paused, flushed or absent at
// start, MariaDB killed, instances killed or restarted. Each scenario reads
// MySQL at the end and judges every ack and every delivery against it.
//
// `make test` runs each scenario once; `make faults COUNT=n` runs each n
// times, with the figures.
package faults
