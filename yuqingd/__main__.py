from yuqingd.cli import main

raise SystemExit(main())
