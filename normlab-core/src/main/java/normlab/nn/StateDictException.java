package normlab.nn;

import java.util.List;

/** A state dict did not match a model: lists every missing, unexpected and wrongly shaped key at once. */
public class StateDictException extends IllegalArgumentException {
    public final List<String> missing;
    public final List<String> unexpected;
    public final List<String> wrongShape;

    public StateDictException(String model, List<String> missing, List<String> unexpected, List<String> wrongShape) {
        super(message(model, missing, unexpected, wrongShape));
        this.missing = List.copyOf(missing);
        this.unexpected = List.copyOf(unexpected);
        this.wrongShape = List.copyOf(wrongShape);
    }

    private static String message(String model, List<String> missing, List<String> unexpected, List<String> wrongShape) {
        StringBuilder sb = new StringBuilder("Error(s) in loading state dict for ").append(model).append(':');
        if (!missing.isEmpty()) sb.append("\n  missing keys: ").append(missing);
        if (!unexpected.isEmpty()) sb.append("\n  unexpected keys: ").append(unexpected);
        if (!wrongShape.isEmpty()) sb.append("\n  size mismatch: ").append(wrongShape);
        return sb.toString();
    }
}
