package mysql

import "github.com/globalchat/globalchat"

// The secrets table comes with migration 3; the methods with
// sqlstore.Reader.
var _ globalchat.SecretStore = (*Store)(nil)
