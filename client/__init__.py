"""The publishers' command-line client: `licensecodes upload`, `status` and
`download`, talking to a licensecodes server over its REST API
(docs/product.md#the-rest-api) and nothing else. It never opens the database: a publisher's machine
has only a URL and an API key."""
