from worker.run import main

main()
