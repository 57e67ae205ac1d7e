package dev.frcnn.model;

/**
 * One detected object, in original-image pixels.
 *
 * @param ymin top edge (pixels, original image frame)
 * @param xmin left edge
 * @param ymax bottom edge
 * @param xmax right edge
 * @param classIndex 0-based foreground class index (the reference's label; background excluded)
 * @param label class name, {@code classNames.get(classIndex)}
 * @param score softmax probability of the class, in (scoreThresh, 1]
 */
public record Detection(float ymin, float xmin, float ymax, float xmax, int classIndex, String label, float score) {}
