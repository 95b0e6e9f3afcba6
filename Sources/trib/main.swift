print("trib")
