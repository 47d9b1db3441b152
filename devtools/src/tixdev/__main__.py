from tixdev.cli import main

raise SystemExit(main())
