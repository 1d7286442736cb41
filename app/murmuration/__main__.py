from murmuration.cli.main import main

raise SystemExit(main())
