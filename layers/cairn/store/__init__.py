"""Cairn's DynamoDB table models: the single source of each table's key schema and indexes."""
