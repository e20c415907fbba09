package mysql

import "github.com/globalchat/globalchat"

// The secrets table comes with migration 2; the methods with
// sqlstore.Reader.
var _ globalchat.SecretStore = (*Store)(nil)
