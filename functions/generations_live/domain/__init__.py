"""Pure rules: no Firestore, no Firebase, no clock. Plain values in, plain values out."""
