"""Java / Kotlin / Scala via package declarations, C# via namespace declarations."""
from __future__ import annotations

from order_testkit import lang_stats, run, sample_of


def test_java_packages_not_directories_static_wildcard_nested():
    samples, stats = run({
        "src/main/java/com/acme/model/User.java": "package com.acme.model;\npublic class User { class Inner {} }\n",
        "weird/place/Repo.java": "package com.acme.data;\nimport com.acme.model.User;\npublic class Repo {}\n",
        "app/Service.java": ("package com.acme.service;\nimport com.acme.data.*;\n"
                             "import static com.acme.util.Strings.join;\nimport java.util.List;\n"
                             "import com.acme.model.User.Inner;\nclass Service {}\n"),
        "util/Strings.java": "package com.acme.util;\npublic class Strings { public static String join() { return \"\"; } }\n",
    }, lang="Java")
    assert samples == [["src/main/java/com/acme/model/User.java", "util/Strings.java",
                        "weird/place/Repo.java", "app/Service.java"]]
    java = lang_stats(stats, "Java")
    assert (java["deps_found"], java["deps_resolved"]) == (5, 4)


def test_java_default_package_and_directory_layout_is_not_used():
    samples, _ = run({
        "com/x/A.java": "class A {}\n",  # default package despite its directory
        "B.java": "import com.x.A;\nclass B {}\n",
    }, lang="Java")
    assert samples == [["B.java"], ["com/x/A.java"]]


def test_kotlin_top_level_members_and_scala_selectors():
    samples, _ = run({
        "k/Models.kt": "package com.k.model\ndata class User(val n: String)\nfun helper() = 1\n",
        "k/App.kt": "package com.k.app\nimport com.k.model.User\nimport com.k.model.helper\n",
        "s/Base.scala": "package s.core\ntrait Base\n",
        "s/Impl.scala": "package s.impl\nimport s.core.{Base, Other => O}\nclass Impl extends Base\n",
    }, langs={"k/Models.kt": "Kotlin", "k/App.kt": "Kotlin", "s/Base.scala": "Scala", "s/Impl.scala": "Scala"})
    assert sample_of(samples, "k/App.kt") == ["k/Models.kt", "k/App.kt"]
    assert sample_of(samples, "s/Impl.scala") == ["s/Base.scala", "s/Impl.scala"]


def test_csharp_using_namespace_hits_every_declaring_file():
    samples, stats = run({
        "Core/Entity.cs": "namespace Acme.Core { public class Entity {} }\n",
        "Core/Repo.cs": "namespace Acme.Core;\nusing System;\npublic class Repo {}\n",
        "Svc/Service.cs": "using Acme.Core;\nusing static Acme.Util.Strings;\nnamespace Acme.Svc { class Service {} }\n",
        "Util/Strings.cs": "namespace Acme { namespace Util { public static class Strings {} } }\n",
        "Other/Free.cs": "namespace Acme.Other { class Free {} }\n",
    }, lang="C#")
    assert sample_of(samples, "Svc/Service.cs") == [
        "Core/Entity.cs", "Core/Repo.cs", "Util/Strings.cs", "Svc/Service.cs"]
    assert ["Other/Free.cs"] in samples
    cs = lang_stats(stats, "C#")
    assert (cs["deps_found"], cs["deps_resolved"], cs["deps_external"]) == (3, 2, 1)
