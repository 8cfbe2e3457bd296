"""The web app's local server (`primevault web`): the bundle built from `web/`, the shipped ABIs, the deployment as
`/config.json`, and the CLI's quotes and error explanations as JSON."""
