package dev.frcnn.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * An evaluation metric ({@code eval_metric} in the config, {@code bin/frcnn eval --metric}); {@code docs/evaluation.md}
 * describes each and how they differ.
 */
public enum EvalMetric {
    /** PASCAL VOC2007's 11-point interpolated AP per class, IoU 0.5, difficult objects ignored; their mean (mAP). */
    VOC07("voc07", "mAP", "map"),
    /** VOC2010+'s AP: the area under the interpolated precision-recall curve, IoU 0.5; their mean (mAP). */
    VOC("voc", "mAP", "map"),
    /**
     * COCO's box AP as pycocotools computes it: precision averaged over 101 recall points, 10 IoU thresholds
     * 0.50:0.05:0.95 and the categories (AP@[.5:.95]); with AP50, AP75, the area ranges and AR, the 12 summary
     * numbers.
     */
    COCO("coco", "AP@[.5:.95]", "coco_ap");

    /** The names {@link #fromName} accepts, in declaration order. */
    public static final List<String> NAMES = Arrays.stream(values()).map(EvalMetric::configName).toList();

    private final String configName;
    private final String label;
    private final String column;

    EvalMetric(String configName, String label, String column) {
        this.configName = configName;
        this.label = label;
        this.column = column;
    }

    /** The config and command-line name: {@code voc07}, {@code voc}, {@code coco}. */
    public String configName() {
        return configName;
    }

    /** The headline number's name in log lines and charts: {@code mAP} or {@code AP@[.5:.95]}. */
    public String label() {
        return label;
    }

    /** The headline number's column in a run's {@code metrics.csv}: {@code map} (VOC metrics) or {@code coco_ap}. */
    public String column() {
        return column;
    }

    /** Whether this is one of the VOC metrics (IoU 0.5, difficult objects ignored). */
    public boolean isVoc() {
        return this != COCO;
    }

    /**
     * @param name {@code voc07}, {@code voc} or {@code coco} (case-insensitive, surrounding blanks ignored)
     * @return the metric
     * @throws IllegalArgumentException for another name
     */
    public static EvalMetric fromName(String name) {
        String n = name == null ? "" : name.strip().toLowerCase(Locale.ROOT);
        for (EvalMetric m : values()) {
            if (m.configName.equals(n)) return m;
        }
        throw new IllegalArgumentException("eval_metric must be one of " + String.join(", ", NAMES) + ", got " + name);
    }

    /**
     * Metrics given as names, each possibly a comma-separated list ({@code --metric voc07,coco} or the option
     * repeated): in the order given, each once.
     *
     * @throws IllegalArgumentException for an unknown or empty name, or no name at all
     */
    public static List<EvalMetric> parseList(List<String> names) {
        Set<EvalMetric> out = new LinkedHashSet<>();
        for (String entry : names) {
            for (String n : entry.split(",", -1)) out.add(fromName(n));
        }
        if (out.isEmpty()) throw new IllegalArgumentException("no metric given; one of " + String.join(", ", NAMES));
        return new ArrayList<>(out);
    }
}
