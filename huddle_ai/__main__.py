from huddle_ai.cli import main

main()
