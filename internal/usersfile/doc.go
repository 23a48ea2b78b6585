// Package usersfile reads the users file that the gateway (sip.credentialsFile) and the
// pools (usersFile) share, and computes digest HA1 hashes for it.
//
// The file is a YAML map from user name to either a plain password (the demo's form,
// readable on purpose) or a hashed entry:
//
//	alice: alice-demo                                   # plain password
//	bob: {realm: parkway, ha1: 5d2e…}                   # HA1 = hex MD5("bob:parkway:password")
//
// HA1 is what Kamailio (its ha1 column) and Asterisk (md5_cred) store: MD5 of
// "user:realm:password" (RFC 2617 §3.2.2.2). It stands in for the password in both
// directions of digest authentication: a pool checks a response from it and the gateway
// computes one from it, so neither needs the password itself. It is only good for the
// realm it was made for and for the MD5 algorithm, so a hashed entry names its realm;
// a pool refuses an entry of another realm at start, and a pool with hashed users
// challenges with MD5 only. An HA1 still lets whoever steals it authenticate in that
// realm (it is password-equivalent there), but not elsewhere, and the password cannot
// be read back from it — keep the file private either way (mode 600).
//
// `parkway passwd USER REALM` prints a hashed line for the file (HA1 here).
package usersfile
