// Package httpapi is the HTTP face of the server: the REST API, health and
// readiness, /metrics, the Socket.IO endpoint and the web client, all
// listed in routes.go. It maps error codes to HTTP statuses, in one place.
// It imports the root package and no implementation.
package httpapi
