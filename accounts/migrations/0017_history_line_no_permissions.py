from django.db import migrations


def drop_permissions(apps, schema_editor):
    """The four permissions post_migrate made for the history line before it had none: a database
    migrated before this keeps no «Can add history line» in the staff permission picker."""
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="accounts", content_type__model="historyline").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0016_history_line"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="historyline",
            options={
                "default_permissions": (),
                "managed": False,
                "verbose_name": "history line",
                "verbose_name_plural": "history lines",
            },
        ),
        migrations.RunPython(drop_permissions, migrations.RunPython.noop),
    ]
