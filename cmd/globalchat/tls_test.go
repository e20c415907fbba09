package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestRedisOverTLS: a Redis that speaks only TLS, its certificate signed
// by a CA made for the test. With REDIS_CA_FILE the server connects and
// says so; without, the certificate is untrusted, a setting to fix: the
// start stops, naming it, exit code 1.
func TestRedisOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := writeTestCA(t, dir)
	port := testenv.FreePort(t)
	srv := exec.Command(testenv.Binary(t, "redis-server"), "--port", "0", "--tls-port", strconv.Itoa(port),
		"--bind", "127.0.0.1", "--tls-cert-file", filepath.Join(dir, "redis.pem"), "--tls-key-file", filepath.Join(dir, "redis.key"),
		"--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", dir)
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	testenv.WaitTCP(t, testenv.Addr(port), 10*time.Second)
	url := "rediss://" + testenv.Addr(port) + "/0"
	in := startBinary(t, "REDIS_URL="+url, "REDIS_CA_FILE="+ca, "LOG_FORMAT=json")
	if l := waitLog(t, in, "redis connected"); !strings.Contains(l, `"tls":true`) {
		t.Fatalf("start line: %s", l)
	}

	untrusted := exec.Command(buildBinary(t))
	untrusted.Env = append(os.Environ(), "PORT=0", "REDIS_URL="+url, "SQLITE_PATH="+filepath.Join(dir, "chat.db"))
	out, err := untrusted.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "REDIS_URL") ||
		!strings.Contains(string(out), "certificate") {
		t.Fatalf("without the CA: %v\n%s", err, out)
	}
}

// writeTestCA writes a CA (ca.pem) and a certificate for 127.0.0.1 signed
// by it (redis.pem, redis.key) into dir, and returns the CA's path.
func writeTestCA(t *testing.T, dir string) string {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "globalchat test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("redis.pem", "CERTIFICATE", der)
	write("redis.key", "EC PRIVATE KEY", keyDER)
	return filepath.Join(dir, "ca.pem")
}
