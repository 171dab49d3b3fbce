"""Wire models: the JSON the API accepts and returns, in OpenAI's field order, apart from serving logic."""
