from app.bootstrap.cli import main

raise SystemExit(main())
