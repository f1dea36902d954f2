"""Station database: engine factory, models, migrations, repositories."""
