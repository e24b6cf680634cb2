-- An API key's scope: `read` or `read_write` (NULL, as for every device token and older key:
-- read_write). The member's role applies on top: a viewer's key reads only whatever its scope.
ALTER TABLE tokens ADD COLUMN scope TEXT;
