"""People and what they may read: users with roles and passwords, groups, repository grants, sign-in
throttling. The repositories a caller may read are resolved here (`access.user_scope`) and enforced where
retrieval happens: `TokenStore.authenticate` and the console's sessions put them into `Principal.repos`, which
every retrieval filter reads."""
