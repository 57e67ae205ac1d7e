package dev.frcnn.cli;

/** Entry point of {@code bin/frcnn}. */
public final class Main {
    public static void main(String[] args) {
        System.out.println("frcnn");
    }
}
