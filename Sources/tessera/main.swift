import Training
print("tessera")
