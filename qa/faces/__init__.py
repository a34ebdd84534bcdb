"""The faces: the `qa` command line, the Gradio page and JSON API, the Slack bot, and the rendering they
share. Each reaches the index only through the Engine."""
