package dev.frcnn.data;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link CocoCategories}: ids to contiguous labels in id order, and back; its JSON form. */
class CocoCategoriesTest {
    private final CocoCategories c = new CocoCategories(List.of(90, 1, 18, 44), List.of("toothbrush", "person", "dog",
            "bottle"));

    @Test
    void labelsFollowTheSortedIds() {
        assertThat(c.size()).isEqualTo(4);
        assertThat(c.names()).containsExactly("person", "dog", "bottle", "toothbrush");
        assertThat(List.of(c.label(1), c.label(18), c.label(44), c.label(90))).containsExactly(0, 1, 2, 3);
        for (int label = 0; label < c.size(); label++) assertThat(c.label(c.id(label))).isEqualTo(label);
        assertThat(c.name(c.label(44))).isEqualTo("bottle");
        assertThat(c.contains(2)).isFalse();
        assertThatThrownBy(() -> c.label(2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown category id 2");
    }

    @Test
    void jsonRoundTrip() {
        String json = c.toJson();
        assertThat(json).isEqualTo("[{\"id\":1,\"name\":\"person\"},{\"id\":18,\"name\":\"dog\"},"
                + "{\"id\":44,\"name\":\"bottle\"},{\"id\":90,\"name\":\"toothbrush\"}]");
        CocoCategories back = CocoCategories.fromJson(json);
        assertThat(back).isEqualTo(c);
        assertThat(back.id(3)).isEqualTo(90);
    }

    @Test
    void readsACocoCategoriesArrayInAnyOrder() {
        CocoCategories d = CocoCategories.fromJson("[{\"id\": 18, \"name\": \"dog\", \"supercategory\": \"animal\"},"
                + "{\"id\": 3, \"name\": \"car\"}]");
        assertThat(d.names()).containsExactly("car", "dog");
    }

    @Test
    void refusesBadMappings() {
        assertThatThrownBy(() -> new CocoCategories(List.of(1, 1), List.of("a", "b")))
                .hasMessageContaining("category id 1 given twice");
        assertThatThrownBy(() -> CocoCategories.fromJson("[{\"id\": \"1\", \"name\": \"a\"}]"))
                .hasMessageContaining("no integer 'id'");
        assertThatThrownBy(() -> CocoCategories.fromJson("{}")).hasMessageContaining("not an array");
        assertThatThrownBy(() -> CocoCategories.fromJson("[]")).hasMessageContaining("no categories");
    }
}
